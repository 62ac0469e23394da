#pragma once
// Which instruction set the integer kernels run on, chosen once at run time (the default build has no
// -march flag). TAMEQ_KERNEL=scalar|avx2|avxvnni|avx512vnni forces a path; asking for one this CPU lacks
// is an error rather than a silent fallback, so a forced test never passes on the wrong path.
#include <string>
#include <vector>

namespace tameq::kern {

enum class KernelPath { scalar, avx2, avxvnni, avx512vnni };

const char* path_name(KernelPath p);
KernelPath parse_path(const std::string& name);  // throws tameq::Error on unknown names

// Every path this CPU can run, scalar first, fastest last.
std::vector<KernelPath> supported_paths();
bool path_supported(KernelPath p);

// The path the kernels use now: set_path's, else TAMEQ_KERNEL's, else the fastest supported.
KernelPath active_path();
// Forces a path for later calls (tests, benchmarks); throws if the CPU lacks it.
void set_path(KernelPath p);

}  // namespace tameq::kern
