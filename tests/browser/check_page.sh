#!/usr/bin/env bash
# Renders an HTML report in headless Chromium, saves a full-width screenshot and checks the page as the
# browser built it: a non-empty <title> and <h1>, at least MIN_SECTIONS <section>s, an <svg> in every
# section, and nothing logged to the JavaScript console (the pages carry no scripts, so any console
# message is an error: a blocked resource, a parse problem).
# Usage: check_page.sh PAGE.html SCREENSHOT.png [MIN_SECTIONS]
# Exit: 0 the page is fine, 1 a check failed (printed), 77 no chromium on this machine (skip).
set -uo pipefail
page=$1 shot=$2 min_sections=${3:-1}
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "chromium not found: install it (scripts/install-deps.sh) to run the browser check"
  exit 77
fi
[ -f "$page" ] || { echo "no such page: $page"; exit 1; }
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
flags=(--headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update
       --disable-sync --no-first-run --user-data-dir="$profile/user" --enable-logging=stderr --v=0)
url="file://$(realpath "$page")"

timeout 120 "$browser" "${flags[@]}" --dump-dom "$url" >"$profile/dom.html" 2>"$profile/dom.log"
timeout 120 "$browser" "${flags[@]}" --hide-scrollbars --window-size=1400,2400 --screenshot="$shot" "$url" \
  >/dev/null 2>"$profile/shot.log"

fail=0
err() { echo "FAIL: $*"; fail=1; }
[ -s "$profile/dom.html" ] || err "chromium rendered no DOM (log: $(tail -3 "$profile/dom.log"))"
[ -s "$shot" ] || err "no screenshot at $shot (log: $(tail -3 "$profile/shot.log"))"
title=$(sed -n 's:.*<title>\([^<]*\)</title>.*:\1:p' "$profile/dom.html" | head -1)
[ -n "$title" ] || err "the page has no <title>"
grep -q '<h1>[^<]' "$profile/dom.html" || err "the page has no <h1> heading"
# One record per section: everything between <section and </section>.
read -r sections with_svg < <(awk 'BEGIN{RS="</section>"} /<section/{n++; if ($0 ~ /<svg/) s++} END{print n+0, s+0}' "$profile/dom.html")
[ "$sections" -ge "$min_sections" ] || err "$sections sections, expected at least $min_sections"
[ "$sections" = "$with_svg" ] || err "only $with_svg of $sections sections hold an <svg>"
if grep -h 'CONSOLE' "$profile/dom.log" "$profile/shot.log" >"$profile/console.log"; then
  err "console messages:"; cat "$profile/console.log"
fi
if [ $fail = 0 ]; then
  echo "page '$title': $sections sections, each with an <svg>, no console messages; screenshot $shot"
fi
exit $fail
