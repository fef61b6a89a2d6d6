//! Where the dot kernel of [`super::kernel`] gets its weight rows from: f32 rows where they lie,
//! or rows kept in GGUF block form ([`QuantRows`]), turned into f32 one group at a time.
//!
//! A quantised group is small (4 rows: 9 kB at SmolLM2's width) and stays in L1 for all the row
//! passes over it, so the f32 values are made once per decode step while memory supplies ~6×
//! fewer bytes. The values are bit-identical to the loader's f32 copy, so the sums are too.

use crate::weights::QuantRows;

/// The weight rows of one column block of the dot kernel, group by group.
pub(crate) trait WeightRows<'a> {
    /// Rows `col..col + cols` of the block as f32, `cols * k` values.
    fn group(&mut self, col: usize, cols: usize) -> &[f32];

    /// The stored bytes of the group of rows that starts at row `col` of the block (running
    /// into the next block, clamped at the end of the matrix), for the cache to fetch early.
    fn next_group_bytes(&self, col: usize) -> &'a [u8];
}

/// f32 rows of `k` values in memory (`wt` starts at the block's first row and may run on).
pub(crate) struct F32Rows<'a> {
    /// The rows.
    pub wt: &'a [f32],
    /// Values per row.
    pub k: usize,
    /// Rows per group.
    pub group_rows: usize,
}

impl<'a> WeightRows<'a> for F32Rows<'a> {
    #[inline(always)]
    fn group(&mut self, col: usize, cols: usize) -> &[f32] {
        &self.wt[col * self.k..(col + cols) * self.k]
    }

    #[inline(always)]
    fn next_group_bytes(&self, col: usize) -> &'a [u8] {
        let start = (col * self.k).min(self.wt.len());
        let end = ((col + self.group_rows) * self.k).min(self.wt.len());
        let rows = &self.wt[start..end];
        // SAFETY: any initialised f32 is 4 initialised bytes; u8 has alignment 1.
        unsafe {
            std::slice::from_raw_parts(rows.as_ptr().cast::<u8>(), std::mem::size_of_val(rows))
        }
    }
}

/// Rows `start..` of a quantised matrix, made f32 a group at a time in a scratch buffer.
pub(crate) struct QuantGroups<'a> {
    rows: &'a QuantRows,
    start: usize,
    group_rows: usize,
    scratch: Vec<f32>,
    /// Where the group's values start in `scratch`: the first 64-byte boundary. The
    /// allocator's 16-byte alignment made every other 8-lane load (every 16-lane load with
    /// AVX-512) span two cache lines, each such load costing two; aligned, the batch-16 SmolLM2
    /// product on a 2-core AVX2 CPU went from 37 to 57 GFLOP/s (one thread, 16 × 576 × 1536,
    /// best of 200).
    aligned: usize,
}

/// Values of room in front of a group for [`QuantGroups::aligned`] (64 bytes less one value).
const SCRATCH_SLACK: usize = 15;

impl<'a> QuantGroups<'a> {
    /// The block of `rows` that starts at row `start`, in groups of `group_rows`.
    pub fn new(rows: &'a QuantRows, start: usize, group_rows: usize) -> Self {
        let scratch = vec![0.0; group_rows * rows.cols() + SCRATCH_SLACK];
        let aligned = scratch.as_ptr().align_offset(64).min(SCRATCH_SLACK);
        Self {
            rows,
            start,
            group_rows,
            scratch,
            aligned,
        }
    }
}

impl<'a> WeightRows<'a> for QuantGroups<'a> {
    #[inline(always)]
    fn group(&mut self, col: usize, cols: usize) -> &[f32] {
        let group = self.aligned..self.aligned + cols * self.rows.cols();
        self.rows
            .dequantize_rows(self.start + col, cols, &mut self.scratch[group.clone()]);
        &self.scratch[group]
    }

    #[inline(always)]
    fn next_group_bytes(&self, col: usize) -> &'a [u8] {
        self.rows.row_range_bytes(self.start + col, self.group_rows)
    }
}
