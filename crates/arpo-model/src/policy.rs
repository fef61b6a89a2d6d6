//! [`CausalLm`] as an `arpo_core::Policy`: what the rollout engine drives.

use burn::tensor::{backend::Backend, Tensor};

use arpo_core::{Policy, TokenId};

use crate::{CausalLm, KvCache};

impl<B: Backend> Policy<B> for CausalLm<B> {
    type Cache = KvCache<B>;

    fn device(&self) -> B::Device {
        CausalLm::device(self)
    }

    fn vocab_size(&self) -> usize {
        CausalLm::vocab_size(self)
    }

    fn new_cache(&self) -> KvCache<B> {
        CausalLm::new_cache(self)
    }

    fn cache_len(&self, cache: &KvCache<B>) -> usize {
        cache.len()
    }

    fn extend(
        &self,
        tokens: &[Vec<TokenId>],
        caches: &mut [KvCache<B>],
    ) -> arpo_core::Result<Tensor<B, 2>> {
        Ok(CausalLm::extend(self, tokens, caches)?)
    }
}
