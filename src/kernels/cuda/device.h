#pragma once
// CUDA device discovery, error checking and plain memory moves for the tameq_cuda library. No CUDA headers
// here, so plain C++ callers (tests, the lab, the engine in model/cuda_engine.cpp) include it without the
// toolkit on their include path.
#include <cstddef>
#include <string>

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace tameq::cuda {

using Stream = CUstream_st*;

// True when a CUDA device can run our sm_90a code; otherwise false with the reason in *why.
bool device_available(std::string* why = nullptr);
// "NVIDIA H200 (sm_90, driver 13.0, 132 SMs, 143 GB)" of device 0.
std::string device_description();

// Throws tameq::Error "cuda: <what>: <error string>" when `code` (a cudaError_t) is not cudaSuccess.
void check(int code, const char* what);

// Checks the last launch's error (and, with sync, waits for the device and checks again).
void check_launch(const char* what, bool sync = false);

// Throws tameq::Error "<where>: <what>" (shape checks of the kernels' launchers).
[[noreturn]] void fail_shape(const char* where, const char* what);

// cudaMalloc; out of memory throws "cuda: <what>: out of GPU memory: <bytes> bytes asked, <free> free".
void* device_alloc(size_t bytes, const char* what);
void device_free(void* p);
void copy_to_device(void* dst, const void* src, size_t bytes);
void copy_to_host(void* dst, const void* src, size_t bytes);  // synchronous: waits for earlier work
void synchronize(const char* what);
// Peak of (total − free) device memory seen by device_alloc so far, in bytes.
size_t peak_device_bytes();

}  // namespace tameq::cuda
