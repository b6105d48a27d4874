#ifndef ADDERLAB_CVECTOR_H
#define ADDERLAB_CVECTOR_H

// Vector helpers Swift's SIMD types lack. Swift imports these 8-lane ext_vector
// types as SIMD8<Float>, and the static inline bodies are compiled into the calling
// Swift module, where they inline to single instructions (vmaxps/vminps with AVX).
// Swift's own pointwiseMin/pointwiseMax/clamped go lane by lane and measured
// 100× slower; an integer bit-mask clamp needed 3 more instructions per vector.

typedef float adder_float8 __attribute__((ext_vector_type(8)));

/// min(max(w, lo), hi) per lane, w broadcast: with lo = x - 1 and hi = x + 1 this is
/// x + clamp(w - x, -1, 1), the HardTanh rule in two instructions (no subtraction).
static inline __attribute__((always_inline)) adder_float8 adder_clamp_between8(float w, adder_float8 lo, adder_float8 hi) {
    adder_float8 v = (adder_float8)(w);
    v = v > lo ? v : lo;
    return v < hi ? v : hi;
}

/// 1.0f that the optimizer cannot see through. fma(a, one, c) = a + c exactly, but
/// with a literal 1 LLVM folds it back into an add. The adder forward kernel wants
/// the fused form: on AMD Zen the adds and the subtractions then run on different
/// execution pipes (FMA on 0/1, add on 2/3) instead of sharing pipes 2/3, 1.25×.
static inline __attribute__((always_inline)) float adder_opaque_one(void) {
    float one = 1.0f;
#if defined(__x86_64__)
    __asm__ volatile("" : "+x"(one));
#elif defined(__aarch64__)
    __asm__ volatile("" : "+w"(one));
#endif
    return one;
}

typedef int adder_int8 __attribute__((ext_vector_type(8)));

/// sgn(a − b) per lane, in {−1, 0, 1}: two compares (−1 where true), an integer subtraction
/// and a conversion — four instructions where the sign-bit form took eight. Exact: for finite
/// floats a − b is 0 only when a = b (gradual underflow), so the compares decide as the
/// difference's sign does.
static inline __attribute__((always_inline)) adder_float8 adder_sign_diff8(adder_float8 a, adder_float8 b) {
    adder_int8 s = (a < b) - (a > b);
    return __builtin_convertvector(s, adder_float8);
}

/// g where gamma·h + beta > 0, else 0, per lane: the gradient through the ReLU fused into
/// batch norm (h = x̂). Not contracted into an FMA, so that the lanes decide exactly as
/// Swift's gamma * h + beta > 0 does in the forward pass; a compare and an and.
static inline __attribute__((always_inline)) adder_float8 adder_relu_gate8(adder_float8 g, adder_float8 h, float gamma, float beta) {
#pragma clang fp contract(off)
    adder_float8 v = (adder_float8)(gamma) * h + (adder_float8)(beta);
    return v > 0 ? g : (adder_float8)(0.0f);
}

#endif
