#pragma once
// CUDA device discovery and error checking for the tameq_cuda library. No CUDA headers here, so plain C++
// callers (tests, the lab, later the engine) include it without the toolkit on their include path.
#include <string>

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace tameq::cuda {

using Stream = CUstream_st*;

// True when a CUDA device can run our sm_90a code; otherwise false with the reason in *why.
bool device_available(std::string* why = nullptr);

// Throws tameq::Error "cuda: <what>: <error string>" when `code` (a cudaError_t) is not cudaSuccess.
void check(int code, const char* what);

// Checks the last launch's error (and, with sync, waits for the device and checks again).
void check_launch(const char* what, bool sync = false);

}  // namespace tameq::cuda
