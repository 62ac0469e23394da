#include "kernels/cuda/device.h"

#include <cuda_runtime_api.h>

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

void check(int code, const char* what) {
    if (code != cudaSuccess) fail("cuda", "{}: {}", what, cudaGetErrorString(cudaError_t(code)));
}

void check_launch(const char* what, bool sync) {
    check(cudaGetLastError(), what);
    if (sync) check(cudaDeviceSynchronize(), what);
}

}  // namespace tameq::cuda
