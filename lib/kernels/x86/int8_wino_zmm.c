/* The INT8 Winograd output transforms of int8_wino_avx2.c (F(2×2) and
 * F(4×4)) built with the AVX-512 flags for the avx512vnni set: the same
 * transforms on ymm halves, the requantization epilogue on one zmm per 16
 * tiles (int8_requant_avx512.h) — SiLU's exp and divisions on 16 lanes.
 * Bit-identical to ypr__i8_wino_tout_ref / _tout4_ref. */
#define YPR_WINO_ZMM 1
#include "int8_wino_avx2.c"
