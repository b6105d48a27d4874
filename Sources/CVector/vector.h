#ifndef ADDERLAB_CVECTOR_H
#define ADDERLAB_CVECTOR_H

// Vector helpers Swift's SIMD types lack. Swift imports these 8-lane ext_vector
// types as SIMD8<Float>, and the static inline bodies are compiled into the calling
// Swift module, where they inline to single instructions (vminps/vmaxps with AVX).
// Swift's own pointwiseMin/pointwiseMax/clamped go lane by lane and measured
// 100× slower; an integer bit-mask clamp needed 3 more instructions per vector.

typedef float adder_float8 __attribute__((ext_vector_type(8)));

/// clamp(d, -1, 1) per lane; a NaN lane becomes -1.
static inline __attribute__((always_inline)) adder_float8 adder_hardtanh8(adder_float8 d) {
    adder_float8 lo = d > -1.0f ? d : (adder_float8)(-1.0f);
    return lo < 1.0f ? lo : (adder_float8)(1.0f);
}

#endif
