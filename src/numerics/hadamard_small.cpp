#include "numerics/hadamard_small.h"

#include <array>
#include <map>
#include <mutex>
#include <stdexcept>

namespace tameq {

namespace {

using Matrix = std::vector<int8_t>;  // row-major m×m, ±1

Matrix sylvester_double(const Matrix& h, int m) {
    Matrix out(size_t(4) * m * m);
    const int n = 2 * m;
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < m; j++) {
            const int8_t v = h[size_t(i) * m + j];
            out[size_t(i) * n + j] = v;
            out[size_t(i) * n + j + m] = v;
            out[size_t(i + m) * n + j] = v;
            out[size_t(i + m) * n + j + m] = int8_t(-v);
        }
    }
    return out;
}

// GF(q), q = p^k, elements coded 0..q-1 by their base-p digits (polynomial coefficients, low first).
class GaloisField {
public:
    explicit GaloisField(int q) : q_(q) {
        for (p_ = 2; q % p_ != 0; p_++) {}
        for (int r = q; r > 1; r /= p_) {
            if (r % p_ != 0) throw std::logic_error("GaloisField: q is not a prime power");
            k_++;
        }
        find_modulus();
        square_.assign(q_, false);
        for (int x = 1; x < q_; x++) square_[mul(x, x)] = true;
    }

    int size() const { return q_; }
    int sub(int a, int b) const {
        int r = 0;
        for (int i = 0, w = 1; i < k_; i++, w *= p_) r += ((a / w % p_ - b / w % p_ + p_) % p_) * w;
        return r;
    }
    int mul(int a, int b) const {
        std::vector<int> prod(2 * k_, 0);
        const auto da = digits(a), db = digits(b);
        for (int i = 0; i < k_; i++)
            for (int j = 0; j < k_; j++) prod[i + j] = (prod[i + j] + da[i] * db[j]) % p_;
        // Reduce by the monic modulus x^k = -(m_{k-1} x^{k-1} + ... + m_0).
        for (int d = 2 * k_ - 1; d >= k_; d--) {
            const int c = prod[d];
            prod[d] = 0;
            for (int i = 0; i < k_; i++) prod[d - k_ + i] = ((prod[d - k_ + i] - c * modulus_[i]) % p_ + p_) % p_;
        }
        int r = 0;
        for (int i = k_ - 1; i >= 0; i--) r = r * p_ + prod[i];
        return r;
    }
    // Quadratic character: 0 for 0, +1 for a non-zero square, -1 otherwise.
    int chi(int x) const { return x == 0 ? 0 : (square_[x] ? 1 : -1); }
    bool is_prime() const { return k_ == 1; }

private:
    std::vector<int> digits(int a) const {
        std::vector<int> d(k_);
        for (int i = 0; i < k_; i++, a /= p_) d[i] = a % p_;
        return d;
    }
    // The first monic polynomial of degree k whose powers of x run through all q-1 non-zero
    // elements is irreducible (and primitive); exhaustive but tiny for the fields used here.
    void find_modulus() {
        modulus_.assign(k_, 0);
        if (k_ == 1) return;  // GF(p): x^1 = 0 never consulted, products stay below p
        const int combos = q_;
        for (int code = 1; code < combos; code++) {
            for (int i = 0, c = code; i < k_; i++, c /= p_) modulus_[i] = c % p_;
            if (modulus_[0] == 0) continue;
            const int x = p_;  // the element "x" (digits 0, 1)
            int pw = 1, order = 0;
            do {
                pw = mul(pw, x);
                order++;
            } while (pw != 1 && order < q_);
            if (order == q_ - 1) return;
        }
        throw std::logic_error("GaloisField: no primitive polynomial found");
    }

    int q_ = 0, p_ = 0, k_ = 0;
    std::vector<int> modulus_;
    std::vector<bool> square_;
};

bool is_prime_power(int q) {
    if (q < 2) return false;
    int p = 2;
    while (q % p != 0) p++;
    while (q % p == 0) q /= p;
    return q == 1;
}

// Jacobsthal matrix Q[i][j] = chi(x_i - x_j) over GF(q).
std::vector<int> jacobsthal(const GaloisField& f) {
    const int q = f.size();
    std::vector<int> Q(size_t(q) * q);
    for (int i = 0; i < q; i++)
        for (int j = 0; j < q; j++) Q[size_t(i) * q + j] = f.chi(f.sub(i, j));
    return Q;
}

// Paley I, q ≡ 3 (mod 4): S = [[0, 1ᵀ], [-1, Q]] is skew with S·Sᵀ = q·I, so H = I + S.
Matrix paley1(int q) {
    const GaloisField f(q);
    const auto Q = jacobsthal(f);
    const int m = q + 1;
    Matrix h(size_t(m) * m);
    for (int i = 0; i < m; i++) {
        for (int j = 0; j < m; j++) {
            int s;
            if (i == 0) s = j == 0 ? 0 : 1;
            else if (j == 0) s = -1;
            else s = Q[size_t(i - 1) * q + (j - 1)];
            h[size_t(i) * m + j] = int8_t(s + (i == j ? 1 : 0));
        }
    }
    return h;
}

// Paley II, q ≡ 1 (mod 4): C = [[0, 1ᵀ], [1, Q]] is a symmetric conference matrix of order q+1;
// H = C ⊗ [[1, 1], [1, -1]] + I ⊗ [[1, -1], [-1, -1]] has order 2(q+1).
Matrix paley2(int q) {
    const GaloisField f(q);
    const auto Q = jacobsthal(f);
    const int c = q + 1, m = 2 * c;
    Matrix h(size_t(m) * m);
    static constexpr int kOff[2][2] = {{1, 1}, {1, -1}};
    static constexpr int kDiag[2][2] = {{1, -1}, {-1, -1}};
    for (int i = 0; i < c; i++) {
        for (int j = 0; j < c; j++) {
            const int cij = i == j ? 0 : (i == 0 || j == 0) ? 1 : Q[size_t(i - 1) * q + (j - 1)];
            for (int a = 0; a < 2; a++)
                for (int b = 0; b < 2; b++)
                    h[size_t(2 * i + a) * m + 2 * j + b] = int8_t(i == j ? kDiag[a][b] : cij * kOff[a][b]);
        }
    }
    return h;
}

using Seq = std::vector<int>;  // ±1, indexed by Z_n

int periodic_autocorrelation(const Seq& a, int s) {
    const int n = int(a.size());
    int t = 0;
    for (int i = 0; i < n; i++) t += a[i] * a[(i + s) % n];
    return t;
}

// Four symmetric ±1 sequences of odd length n whose periodic autocorrelations sum to zero at every
// non-zero shift (Williamson sequences). The search space is cut, as Baumert and Đoković did, by
// asking each sequence to be constant on the orbits of Z_n under the multiplier group <g, -1>; a
// meet-in-the-middle over pairs then finds a quadruple in milliseconds. Deterministic: the first
// match in a fixed enumeration order.
std::array<Seq, 4> williamson_sequences(int n, int g) {
    std::vector<int> group = {1};
    for (size_t i = 0; i < group.size(); i++) {
        for (int mult : {g, n - 1}) {
            const int x = int(int64_t(group[i]) * mult % n);
            bool seen = false;
            for (int e : group) seen = seen || e == x;
            if (!seen) group.push_back(x);
        }
    }
    std::vector<int> orbit(n, -1);
    int orbits = 0;
    for (int i = 0; i < n; i++) {
        if (orbit[i] >= 0) continue;
        for (int h : group) orbit[int64_t(h) * i % n] = orbits;
        orbits++;
    }
    std::vector<int> shifts;  // one shift per orbit of non-zero shifts: the PAF is constant on orbits
    {
        std::vector<bool> seen(orbits, false);
        for (int s = 1; s < n; s++)
            if (!seen[orbit[s]]) seen[orbit[s]] = true, shifts.push_back(s);
    }
    // Orbit 0 is {0}; a[0] = +1 without loss of generality (negating a sequence keeps its PAF).
    const int count = 1 << (orbits - 1);
    std::vector<Seq> seqs(count, Seq(n));
    std::vector<std::vector<int>> paf(count);
    for (int mask = 0; mask < count; mask++) {
        for (int i = 0; i < n; i++) seqs[mask][i] = orbit[i] == 0 || !((mask >> (orbit[i] - 1)) & 1) ? 1 : -1;
        for (int s : shifts) paf[mask].push_back(periodic_autocorrelation(seqs[mask], s));
    }
    std::map<std::vector<int>, std::pair<int, int>> pairs;
    std::vector<int> sum(shifts.size());
    for (int x = 0; x < count; x++) {
        for (int y = x; y < count; y++) {
            for (size_t r = 0; r < shifts.size(); r++) sum[r] = paf[x][r] + paf[y][r];
            pairs.emplace(sum, std::make_pair(x, y));
        }
    }
    for (int z = 0; z < count; z++) {
        for (int w = z; w < count; w++) {
            for (size_t r = 0; r < shifts.size(); r++) sum[r] = -(paf[z][r] + paf[w][r]);
            const auto it = pairs.find(sum);
            if (it != pairs.end()) return {seqs[it->second.first], seqs[it->second.second], seqs[z], seqs[w]};
        }
    }
    throw std::logic_error("williamson_sequences: no quadruple invariant under the multiplier group");
}

// Goethals–Seidel array over circulants A, B, C, D of order n with Σ A·Aᵀ = 4n·I (R = back identity):
//   [  A     BR    CR    DR  ]
//   [ -BR    A    DᵀR  -CᵀR  ]
//   [ -CR  -DᵀR    A    BᵀR  ]
//   [ -DR   CᵀR  -BᵀR    A   ]
Matrix goethals_seidel(const std::array<Seq, 4>& seq) {
    const int n = int(seq[0].size()), m = 4 * n;
    // circ(a)[i][j] = a[j - i]; (circ(a)·R)[i][j] = a[n-1-j-i]; (circ(a)ᵀ·R)[i][j] = a[i-(n-1-j)].
    auto plain = [n](const Seq& a, int i, int j) { return a[((j - i) % n + n) % n]; };
    auto times_r = [n](const Seq& a, int i, int j) { return a[((n - 1 - j - i) % n + 2 * n) % n]; };
    auto transposed_times_r = [n](const Seq& a, int i, int j) { return a[((i - (n - 1 - j)) % n + n) % n]; };
    const Seq &A = seq[0], &B = seq[1], &C = seq[2], &D = seq[3];
    Matrix h(size_t(m) * m);
    for (int bi = 0; bi < 4; bi++) {
        for (int bj = 0; bj < 4; bj++) {
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    int v = 0;
                    switch (bi * 4 + bj) {
                        case 0: case 5: case 10: case 15: v = plain(A, i, j); break;
                        case 1: v = times_r(B, i, j); break;
                        case 2: v = times_r(C, i, j); break;
                        case 3: v = times_r(D, i, j); break;
                        case 4: v = -times_r(B, i, j); break;
                        case 6: v = transposed_times_r(D, i, j); break;
                        case 7: v = -transposed_times_r(C, i, j); break;
                        case 8: v = -times_r(C, i, j); break;
                        case 9: v = -transposed_times_r(D, i, j); break;
                        case 11: v = transposed_times_r(B, i, j); break;
                        case 12: v = -times_r(D, i, j); break;
                        case 13: v = transposed_times_r(C, i, j); break;
                        case 14: v = -transposed_times_r(B, i, j); break;
                    }
                    h[size_t(bi * n + i) * m + bj * n + j] = int8_t(v);
                }
            }
        }
    }
    return h;
}

// Cooper–Wallis: T-matrices of order 3 (the three shifts of Z_3) combined with Williamson sequences
// a, b, c, d of order w (coprime to 3) give Goethals–Seidel sequences of order 3w over
// Z_3 × Z_w ≅ Z_3w: X1 = [a, b, c], X2 = [-b, a, d], X3 = [-c, -d, a], X4 = [-d, c, -b] by residue mod 3.
std::array<Seq, 4> t3_times_williamson(const std::array<Seq, 4>& w) {
    const int n = 3 * int(w[0].size());
    const int sign[4][3] = {{1, 1, 1}, {-1, 1, 1}, {-1, -1, 1}, {-1, 1, -1}};
    const int pick[4][3] = {{0, 1, 2}, {1, 0, 3}, {2, 3, 0}, {3, 2, 1}};
    std::array<Seq, 4> out;
    for (int t = 0; t < 4; t++) {
        out[t].resize(n);
        for (int k = 0; k < n; k++) out[t][k] = sign[t][k % 3] * w[pick[t][k % 3]][k % int(w[0].size())];
    }
    return out;
}

Matrix build(int m) {
    if (m == 1) return {1};
    if (m % 2 == 0 && (m & (m - 1)) == 0) return sylvester_double(build(m / 2), m / 2);
    if (is_prime_power(m - 1) && (m - 1) % 4 == 3) return paley1(m - 1);
    if (m % 2 == 0 && is_prime_power(m / 2 - 1) && (m / 2 - 1) % 4 == 1) return paley2(m / 2 - 1);
    if (m == 156) return goethals_seidel(t3_times_williamson(williamson_sequences(13, 5)));
    if (m == 172) return goethals_seidel(williamson_sequences(43, 6));
    if (m % 8 == 0) return sylvester_double(build(m / 2), m / 2);  // 40 = 2·20
    throw std::logic_error("hadamard_small: no construction for this order");
}

}  // namespace

const std::vector<int>& hadamard_small_orders() {
    static const std::vector<int> orders = {12, 20, 28, 36, 40, 44, 52, 60, 68, 76, 84, 100, 108, 124, 132, 140, 148, 156, 172};
    return orders;
}

const std::vector<int8_t>& hadamard_small(int m) {
    static std::mutex mu;
    static std::map<int, Matrix> cache;
    std::lock_guard<std::mutex> lock(mu);
    auto it = cache.find(m);
    if (it == cache.end()) it = cache.emplace(m, build(m)).first;
    return it->second;
}

}  // namespace tameq
