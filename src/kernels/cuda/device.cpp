#include "kernels/cuda/device.h"

#include <cuda_runtime_api.h>

#include <algorithm>

#include <fmt/format.h>

#include "common/error.h"

namespace tameq::cuda {

bool device_available(std::string* why) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess || count == 0) {
        if (why) *why = e != cudaSuccess ? cudaGetErrorString(e) : "no CUDA device";
        cudaGetLastError();  // not sticky: clear it so later calls start clean
        return false;
    }
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    // The kernels are built for sm_90a only (wgmma-era Hopper); other devices would fail at launch.
    if (prop.major != 9) {
        if (why) *why = std::string("device 0 is ") + prop.name + " (sm_" + std::to_string(prop.major) +
                        std::to_string(prop.minor) + "), the kernels are built for sm_90a";
        return false;
    }
    return true;
}

std::string device_description() {
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    int driver = 0;
    cudaDriverGetVersion(&driver);
    return fmt::format("{} (sm_{}{}, CUDA driver {}.{}, {} SMs, {:.0f} GB)", prop.name, prop.major, prop.minor,
                       driver / 1000, (driver % 1000) / 10, prop.multiProcessorCount,
                       double(prop.totalGlobalMem) / 1e9);
}

void check(int code, const char* what) {
    if (code != cudaSuccess) fail("cuda", "{}: {}", what, cudaGetErrorString(cudaError_t(code)));
}

void check_launch(const char* what, bool sync) {
    check(cudaGetLastError(), what);
    if (sync) check(cudaDeviceSynchronize(), what);
}

void fail_shape(const char* where, const char* what) { fail(where, "{}", what); }

namespace {
size_t peak_in_use = 0;
}

void* device_alloc(size_t bytes, const char* what) {
    void* p = nullptr;
    if (bytes == 0) return nullptr;
    const cudaError_t e = cudaMalloc(&p, bytes);
    if (e == cudaErrorMemoryAllocation) {
        cudaGetLastError();
        size_t free = 0, total = 0;
        cudaMemGetInfo(&free, &total);
        fail("cuda", "{}: out of GPU memory: {} bytes asked, {} free", what, bytes, free);
    }
    check(e, what);
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) == cudaSuccess) peak_in_use = std::max(peak_in_use, total - free);
    return p;
}

void device_free(void* p) {
    if (p) cudaFree(p);
}

void copy_to_device(void* dst, const void* src, size_t bytes) {
    if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice), "cudaMemcpy to device");
}

void copy_to_host(void* dst, const void* src, size_t bytes) {
    if (bytes) check(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost), "cudaMemcpy to host");
}

void synchronize(const char* what) { check(cudaDeviceSynchronize(), what); }

size_t peak_device_bytes() { return peak_in_use; }

}  // namespace tameq::cuda
