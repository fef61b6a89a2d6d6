//! The KV cache: a sequence's attention history, forkable in O(1).
//!
//! Per layer, the history is a list of chunks. A chunk is a preallocated key/value buffer
//! `[kv_heads, capacity, head_dim]` of which the first `len` rows are filled. Cloning a cache
//! (a fork) clones the chunk list: the tensors are reference-counted, so no history is copied.
//! Each chunk carries an ownership marker (`Arc<()>`); a cache writes new rows into its last
//! chunk only while nobody else holds that chunk, otherwise it starts a new chunk. So a fork
//! never copies nor overwrites the shared prefix, and an unforked sequence appends in place
//! (amortised O(1) per token, buffers grow by doubling).

use std::sync::Arc;

use burn::tensor::{backend::Backend, Tensor};

/// Smallest buffer a new chunk gets, in tokens.
const MIN_CHUNK_CAPACITY: usize = 64;

/// One chunk of keys and values.
#[derive(Debug, Clone)]
pub(crate) struct KvChunk<B: Backend> {
    /// `[kv_heads, capacity, head_dim]`
    keys: Tensor<B, 3>,
    /// `[kv_heads, capacity, head_dim]`
    values: Tensor<B, 3>,
    /// Filled rows.
    len: usize,
    /// Held by every cache that lists this chunk; a count of one means the chunk is private.
    owner: Arc<()>,
}

impl<B: Backend> KvChunk<B> {
    fn capacity(&self) -> usize {
        self.keys.dims()[1]
    }

    fn is_private(&self) -> bool {
        Arc::strong_count(&self.owner) == 1
    }

    /// The whole key and value buffers (`[kv_heads, capacity, head_dim]`) and how many
    /// positions are filled. Only the flex attention kernel reads the buffers in place.
    #[cfg(feature = "flex")]
    pub(crate) fn buffers(&self) -> (&Tensor<B, 3>, &Tensor<B, 3>, usize) {
        (&self.keys, &self.values, self.len)
    }

    /// The filled keys and values.
    ///
    /// # Shapes
    /// two `[kv_heads, len, head_dim]` tensors
    pub(crate) fn filled(&self) -> (Tensor<B, 3>, Tensor<B, 3>) {
        let [h, _, d] = self.keys.dims();
        (
            self.keys.clone().slice([0..h, 0..self.len, 0..d]),
            self.values.clone().slice([0..h, 0..self.len, 0..d]),
        )
    }
}

/// `rows` (`[h, n, d]`) written into positions `start..start + n` of `buffer` (`[h, capacity, d]`):
/// in place on flex (see `flex_cpu::write_rows_in_place`), with `slice_assign` elsewhere.
fn write_rows<B: Backend>(buffer: Tensor<B, 3>, start: usize, rows: Tensor<B, 3>) -> Tensor<B, 3> {
    #[cfg(feature = "flex")]
    let buffer = match crate::flex_cpu::write_rows_in_place(buffer, start, &rows) {
        Ok(written) => return written,
        Err(untouched) => untouched,
    };
    let [h, n, d] = rows.dims();
    buffer.slice_assign([0..h, start..start + n, 0..d], rows)
}

/// The history of one layer.
#[derive(Debug, Clone, Default)]
pub(crate) struct LayerCache<B: Backend> {
    pub(crate) chunks: Vec<KvChunk<B>>,
}

impl<B: Backend> LayerCache<B> {
    /// Appends `keys`/`values` (`[kv_heads, n, head_dim]`).
    pub(crate) fn append(&mut self, keys: Tensor<B, 3>, values: Tensor<B, 3>) {
        let [h, n, d] = keys.dims();
        if let Some(mut last) = self.chunks.pop() {
            if last.is_private() {
                // Popped so that the buffers are uniquely owned: backends then write in place.
                let end = last.len + n;
                if end > last.capacity() {
                    // Private and full: move into a buffer twice as large (copies only this
                    // sequence's own rows; amortised O(1) per token).
                    let capacity = (2 * last.capacity()).max(end);
                    let device = keys.device();
                    let grow = |old: Tensor<B, 3>| {
                        let extra = Tensor::zeros([h, capacity - old.dims()[1], d], &device);
                        Tensor::cat(vec![old, extra], 1)
                    };
                    last.keys = grow(last.keys);
                    last.values = grow(last.values);
                }
                last.keys = write_rows(last.keys, last.len, keys);
                last.values = write_rows(last.values, last.len, values);
                last.len = end;
                self.chunks.push(last);
                return;
            }
            self.chunks.push(last);
        }
        let capacity = n.max(MIN_CHUNK_CAPACITY);
        let device = keys.device();
        let pad = |t: Tensor<B, 3>| {
            if capacity == n {
                t
            } else {
                Tensor::cat(vec![t, Tensor::zeros([h, capacity - n, d], &device)], 1)
            }
        };
        self.chunks.push(KvChunk {
            keys: pad(keys),
            values: pad(values),
            len: n,
            owner: Arc::new(()),
        });
    }
}

/// The attention history of one sequence across all layers. `clone()` forks it in O(1).
#[derive(Debug, Clone)]
pub struct KvCache<B: Backend> {
    pub(crate) layers: Vec<LayerCache<B>>,
    len: usize,
}

impl<B: Backend> KvCache<B> {
    /// An empty history for a model with `num_layers` layers.
    pub fn new(num_layers: usize) -> Self {
        Self {
            layers: (0..num_layers)
                .map(|_| LayerCache { chunks: Vec::new() })
                .collect(),
            len: 0,
        }
    }

    /// Tokens in the history (the position of the next token).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the history is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of chunks per layer (1 + the forks along this sequence's path, at most).
    pub fn num_chunks(&self) -> usize {
        self.layers.first().map_or(0, |l| l.chunks.len())
    }

    pub(crate) fn advance(&mut self, n: usize) {
        self.len += n;
    }
}

#[cfg(test)]
mod tests {
    use burn::backend::Flex;
    use burn::tensor::{Tensor, TensorData};

    use super::LayerCache;

    /// `[heads, n, width]` rows numbered from `first` (distinct values per position).
    fn rows(heads: usize, first: usize, n: usize, width: usize) -> Tensor<Flex, 3> {
        let data: Vec<f32> = (0..heads)
            .flat_map(|h| {
                (first..first + n)
                    .flat_map(move |p| (0..width).map(move |w| (h * 10_000 + p * 10 + w) as f32))
            })
            .collect();
        Tensor::from_data(
            TensorData::new(data, [heads, n, width]),
            &Default::default(),
        )
    }

    fn history(cache: &LayerCache<Flex>) -> Vec<f32> {
        let parts: Vec<_> = cache.chunks.iter().map(|c| c.filled().0).collect();
        Tensor::cat(parts, 1).into_data().to_vec().unwrap()
    }

    /// Property: the history reads back exactly the rows appended, in order, through in-place
    /// writes, growth past the first capacity, and forks; a fork's shared prefix is never
    /// written (each side's later rows stay its own).
    #[test]
    fn appends_read_back_in_order_and_forks_never_overwrite_shared_rows() {
        let (heads, width) = (3, 4);
        let mut cache = LayerCache::<Flex>::default();
        let mut at = 0;
        for n in [5, 1, 1, 70, 1, 3] {
            cache.append(rows(heads, at, n, width), rows(heads, at, n, width));
            at += n;
        }
        assert_eq!(
            history(&cache),
            rows(heads, 0, at, width)
                .into_data()
                .to_vec::<f32>()
                .unwrap()
        );
        let mut fork = cache.clone();
        cache.append(rows(heads, at, 2, width), rows(heads, at, 2, width));
        fork.append(rows(heads, 500, 1, width), rows(heads, 500, 1, width));
        let shared = rows(heads, 0, at, width);
        let ours = Tensor::cat(vec![shared.clone(), rows(heads, at, 2, width)], 1);
        let theirs = Tensor::cat(vec![shared, rows(heads, 500, 1, width)], 1);
        assert_eq!(history(&cache), ours.into_data().to_vec::<f32>().unwrap());
        assert_eq!(history(&fork), theirs.into_data().to_vec::<f32>().unwrap());
    }
}
