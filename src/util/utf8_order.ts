/**
 * Compares two strings in the order of their UTF-8 bytes (which is code point order).
 *
 * JavaScript's `<` compares UTF-16 code units, which puts U+E000..U+FFFF after the
 * surrogates of U+10000.. and so disagrees with S3 listings, Parquet statistics and Spark.
 * @returns a negative number, zero or a positive number, like `Array.prototype.sort` expects.
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    // A surrogate stands for a code point above U+FFFF: larger than any BMP character.
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}
