// Input values and expected results for braid-perf's correctness check (-c 1).
//
// Values are chosen so that every expected result is exactly representable in the element type
// whatever order the ranks' contributions are combined in, fp8 included:
// - sum/avg/premulsum: small integers (|v| <= 3) on every rank when n * 3 * scalar fits the
//   type's exact-integer range, otherwise only one rank per element contributes;
// - prod: +-1 everywhere except one rank per element contributing +-2;
// - max/min: integers in [-3, 3] ([0, 6] for unsigned types);
// - data movement (allgather, broadcast, alltoall, sendrecv): any value, rounded to the type at
//   fill and at check alike, identifying (source rank, source index).
// Only avg on floating types is compared with a tolerance (nranks ulps at 4: its inputs are scaled
// by 1/nranks, which rounds, before the sum).
#pragma once

#include <cstddef>
#include <cstdint>

#include "braid/types.h"
#include "collective.h"

namespace braid::perf {

class DataPattern {
 public:
  DataPattern(Collective collective, DataType type, RedOp op, int nranks, int root);

  // Element `index` of `rank`'s input array (index counts from the start of the input, so it
  // spans nranks * count for reducescatter and alltoall).
  double Input(int rank, size_t index) const;
  // Expected element `index` of `rank`'s output, for a collective whose count argument is `count`.
  double Expected(int rank, size_t index, size_t count) const;

  // Writes `n` input elements of `rank` to base[0..n), elements first_index.. of its input.
  void FillInput(void* base, int rank, size_t first_index, size_t n) const;
  // Sets `n` elements to a value no correct output contains (NaN, or the most negative / largest
  // integer), so that a collective that writes nothing is caught.
  void Poison(void* base, size_t n) const;
  // Counts elements of base[0..n) (rank's output elements first_index..) that differ from Expected.
  int64_t CountWrong(const void* base, int rank, size_t first_index, size_t n, size_t count) const;

 private:
  double ReductionInput(int rank, size_t index) const;
  double CopyInput(int rank, size_t index) const;
  double Reduce(size_t index) const;
  // Rounds `value` to the element type and back, as storing it would.
  double Rounded(double value) const;
  bool Matches(double got, double want) const;

  Collective collective_;
  DataType type_;
  RedOp op_;
  int nranks_;
  int root_;
  bool signed_;     // the type holds negative values
  bool sparse_sum_; // sums use one contributor per element (small exact-integer range)
};

}  // namespace braid::perf
