#include "kernels/cuda/blas.h"

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>

#include <map>
#include <tuple>

#include "common/error.h"

namespace tameq::cuda {

namespace {

void check_blas(cublasStatus_t st, const char* what) {
    if (st != CUBLAS_STATUS_SUCCESS) fail("cublas", "{}: {}", what, cublasGetStatusString(st));
}

// Row-major C[m x n] = A[m x k]·W[n x k]ᵀ is column-major Cᵀ[n x m] = op(W)·A with W read as a
// column-major k x n matrix and transposed: cuBLAS's "TN" case, the one IMMA kernels want.
constexpr size_t WORKSPACE = size_t(32) << 20;

}  // namespace

// One shape's cuBLASLt descriptors and chosen algorithm: the heuristic query costs host time comparable
// to a small GEMM, so it runs once per shape.
struct LtPlan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t lw = nullptr, la = nullptr, lc = nullptr;
    cublasLtMatmulAlgo_t algo{};

    LtPlan() = default;
    LtPlan(const LtPlan&) = delete;
    LtPlan& operator=(const LtPlan&) = delete;
    ~LtPlan() {
        cublasLtMatrixLayoutDestroy(lc);
        cublasLtMatrixLayoutDestroy(la);
        cublasLtMatrixLayoutDestroy(lw);
        cublasLtMatmulDescDestroy(desc);
    }
};

struct Blas::Impl {
    cublasHandle_t blas = nullptr;
    cublasLtHandle_t lt = nullptr;
    void* workspace = nullptr;
    std::map<std::tuple<int, int, int>, std::unique_ptr<LtPlan>> plans;

    LtPlan& plan(int m, int n, int k) {
        auto& slot = plans[{m, n, k}];
        if (slot) return *slot;
        auto p = std::make_unique<LtPlan>();
        check_blas(cublasLtMatmulDescCreate(&p->desc, CUBLAS_COMPUTE_32I, CUDA_R_32I), "cublasLtMatmulDescCreate");
        cublasOperation_t op_t = CUBLAS_OP_T;
        check_blas(cublasLtMatmulDescSetAttribute(p->desc, CUBLASLT_MATMUL_DESC_TRANSA, &op_t, sizeof(op_t)),
                   "set TRANSA");
        check_blas(cublasLtMatrixLayoutCreate(&p->lw, CUDA_R_8I, k, n, k), "layout w");
        check_blas(cublasLtMatrixLayoutCreate(&p->la, CUDA_R_8I, k, m, k), "layout a");
        check_blas(cublasLtMatrixLayoutCreate(&p->lc, CUDA_R_32I, n, m, n), "layout c");
        cublasLtMatmulPreference_t pref = nullptr;
        check_blas(cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
        size_t ws = WORKSPACE;
        cublasStatus_t st =
            cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof(ws));
        cublasLtMatmulHeuristicResult_t heur{};
        int found = 0;
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasLtMatmulAlgoGetHeuristic(lt, p->desc, p->lw, p->la, p->lc, p->lc, pref, 1, &heur, &found);
        cublasLtMatmulPreferenceDestroy(pref);
        check_blas(st, "cublasLtMatmulAlgoGetHeuristic");
        if (found == 0) fail("gemm_s8_s32", "cuBLASLt has no int8 algorithm for {}x{}x{}", m, n, k);
        p->algo = heur.algo;
        slot = std::move(p);
        return *slot;
    }
};

Blas::Blas() : impl_(std::make_unique<Impl>()) {
    check_blas(cublasCreate(&impl_->blas), "cublasCreate");
    check_blas(cublasLtCreate(&impl_->lt), "cublasLtCreate");
    check(cudaMalloc(&impl_->workspace, WORKSPACE), "cudaMalloc(cublas workspace)");
    check_blas(cublasSetWorkspace(impl_->blas, impl_->workspace, WORKSPACE), "cublasSetWorkspace");
}

Blas::~Blas() {
    cudaFree(impl_->workspace);
    cublasLtDestroy(impl_->lt);
    cublasDestroy(impl_->blas);
}

void Blas::gemm_bf16(const uint16_t* a, const uint16_t* w, uint16_t* y, int m, int n, int k, Stream s) {
    float alpha = 1.0f, beta = 0.0f;
    check_blas(cublasSetStream(impl_->blas, s), "cublasSetStream");
    check_blas(cublasGemmEx(impl_->blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w, CUDA_R_16BF, k, a,
                            CUDA_R_16BF, k, &beta, y, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx(bf16)");
}

void Blas::gemm_bf16_f32(const uint16_t* a, const uint16_t* w, float* y, int m, int n, int k, Stream s) {
    float alpha = 1.0f, beta = 0.0f;
    check_blas(cublasSetStream(impl_->blas, s), "cublasSetStream");
    check_blas(cublasGemmEx(impl_->blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w, CUDA_R_16BF, k, a,
                            CUDA_R_16BF, k, &beta, y, CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
               "cublasGemmEx(bf16 -> f32)");
}

void Blas::gemm_s8_s32(const int8_t* a, const int8_t* w, int32_t* acc, int m, int n, int k, Stream s) {
    if (k % 4 != 0) fail("gemm_s8_s32", "cuBLASLt int8 needs k % 4 == 0, got k = {}", k);
    LtPlan& p = impl_->plan(m, n, k);
    int32_t alpha = 1, beta = 0;
    check_blas(cublasLtMatmul(impl_->lt, p.desc, &alpha, w, p.lw, a, p.la, &beta, acc, p.lc, acc, p.lc, &p.algo,
                              impl_->workspace, WORKSPACE, s),
               "cublasLtMatmul(s8)");
}

}  // namespace tameq::cuda
