// eˣ for float32 results. Math.exp is a call into a double-precision libm (~9–12 ns an element
// here, most of `exp(x)·x + 1` over a million floats); this one inlines into the compiled loop
// and takes about half that. x = (256k + j)·ln2/256 + r with |r| ≤ ln2/512, so
// eˣ = 2^k · 2^(j/256) · eʳ, where the two powers of two come from tables and eʳ from a
// degree-4 Taylor polynomial (remainder r⁵/120 < 4e-17). The double result is far more accurate
// than float32 needs, so once stored it equals Math.exp's value rounded to float32 (a test sweeps
// the whole float32 range; only a double-rounding tie could make it differ, by one ulp).

const SCALE = 256 / Math.LN2;
// ln2/256 split in two (fdlibm's split of ln 2, divided exactly by 256): kk·LN2_HI is exact.
const LN2_HI = 6.9314718036912381649e-1 / 256;
const LN2_LO = 1.90821492927058770002e-10 / 256;
// Adding then subtracting 1.5·2^52 rounds a double (|t| < 2^51) to the nearest integer.
const ROUND = 6755399441055744;
/** FRAC[j] = 2^(j/256). */
const FRAC = new Float64Array(256).map((_, j) => 2 ** (j / 256));
const K_BIAS = 160;
/** POW2[k + K_BIAS] = 2^k for the k that arguments in (−104, 89) need. */
const POW2 = new Float64Array(320).map((_, i) => 2 ** (i - K_BIAS));

/** eˣ to double accuracy for |x| in float32's range; Math.exp outside (−104, 89) (0, ∞) and for NaN. */
export function exp32(x: number): number {
  if (!(x > -104 && x < 89)) return Math.exp(x);
  const kk = x * SCALE + ROUND - ROUND; // nearest integer to x·256/ln2
  const r = x - kk * LN2_HI - kk * LN2_LO;
  const ki = kk | 0;
  const p = 1 + r + r * r * (0.5 + r * (1 / 6 + r * (1 / 24)));
  return p * FRAC[ki & 255]! * POW2[(ki >> 8) + K_BIAS]!;
}
