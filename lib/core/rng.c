/* Deterministic random numbers: xoshiro256** seeded by splitmix64
 * (algorithms as published by Blackman and Vigna). */
#include <math.h>

#include "core.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void ypr__rng_seed(ypr_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t ypr__rng_u64(ypr_rng *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float ypr__rng_uniform(ypr_rng *r)
{
    return (float)(ypr__rng_u64(r) >> 40) * (1.0f / 16777216.0f);
}

float ypr__rng_normal(ypr_rng *r)
{
    /* Box-Muller; u1 in (0, 1] so the log is finite. */
    float u1 = 1.0f - ypr__rng_uniform(r);
    float u2 = ypr__rng_uniform(r);
    return sqrtf(-2.0f * logf(u1)) * cosf(6.28318530718f * u2);
}
