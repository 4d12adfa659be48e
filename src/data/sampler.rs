//! `DistributedSampler`: each process's share of an epoch, as PyTorch's
//! `torch.utils.data.distributed.DistributedSampler` deals it.

use super::shuffle;
use crate::Error;

/// The indices one of `num_replicas` processes (its `rank`) visits in an epoch, PyTorch's
/// `DistributedSampler`: the epoch's order (shuffled by `seed + epoch` with this crate's
/// Fisher-Yates when `shuffle`, the default; in order otherwise) padded by repeating its
/// start to a multiple of `num_replicas` (or cut down to one with `drop_last`), then every
/// `num_replicas`-th index from `rank`. Every process computes the same order, so the shards
/// partition the epoch (with the padding counted twice). Call [`Self::set_epoch`] each epoch
/// for a new order, as in PyTorch.
///
/// ```
/// use stensor::data::DistributedSampler;
/// let a = DistributedSampler::new(10, 2, 0).unwrap().indices();
/// let b = DistributedSampler::new(10, 2, 1).unwrap().indices();
/// let mut all: Vec<usize> = a.iter().chain(&b).copied().collect();
/// all.sort();
/// assert_eq!(all, (0..10).collect::<Vec<_>>());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistributedSampler {
    len: usize,
    num_replicas: usize,
    rank: usize,
    shuffle: bool,
    seed: u64,
    drop_last: bool,
    epoch: u64,
}

impl DistributedSampler {
    /// The sampler of process `rank` of `num_replicas` over `len` examples (shuffled, seed 0,
    /// padded). A `rank` not below `num_replicas`, or no replicas, is an error.
    ///
    /// ```
    /// use stensor::data::DistributedSampler;
    /// assert_eq!(DistributedSampler::new(7, 2, 1).unwrap().len(), 4);
    /// assert!(DistributedSampler::new(7, 2, 2).is_err());
    /// ```
    pub fn new(len: usize, num_replicas: usize, rank: usize) -> Result<Self, Error> {
        if rank >= num_replicas {
            return Err(Error::Index {
                op: "DistributedSampler rank".into(),
                index: rank as i64,
                size: num_replicas,
            });
        }
        Ok(DistributedSampler {
            len,
            num_replicas,
            rank,
            shuffle: true,
            seed: 0,
            drop_last: false,
            epoch: 0,
        })
    }

    /// Whether to shuffle each epoch (default true).
    ///
    /// ```
    /// let s = stensor::data::DistributedSampler::new(6, 2, 1).unwrap().shuffle(false);
    /// assert_eq!(s.indices(), [1, 3, 5]);
    /// ```
    pub fn shuffle(mut self, shuffle: bool) -> Self {
        self.shuffle = shuffle;
        self
    }

    /// The seed every process shares (default 0).
    ///
    /// ```
    /// use stensor::data::DistributedSampler;
    /// let a = DistributedSampler::new(100, 2, 0).unwrap().seed(1).indices();
    /// assert_ne!(a, DistributedSampler::new(100, 2, 0).unwrap().seed(2).indices());
    /// ```
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Drop the epoch's tail so that it divides evenly, instead of padding (default false).
    ///
    /// ```
    /// let s = stensor::data::DistributedSampler::new(7, 2, 0).unwrap().drop_last(true);
    /// assert_eq!(s.len(), 3);
    /// ```
    pub fn drop_last(mut self, drop_last: bool) -> Self {
        self.drop_last = drop_last;
        self
    }

    /// The epoch whose order [`Self::indices`] gives (the shuffle's seed is `seed + epoch`).
    ///
    /// ```
    /// let mut s = stensor::data::DistributedSampler::new(50, 2, 0).unwrap();
    /// let first = s.indices();
    /// s.set_epoch(1);
    /// assert_ne!(first, s.indices());
    /// ```
    pub fn set_epoch(&mut self, epoch: u64) {
        self.epoch = epoch;
    }

    /// The number of indices each process gets per epoch.
    ///
    /// ```
    /// assert_eq!(stensor::data::DistributedSampler::new(10, 3, 0).unwrap().len(), 4);
    /// ```
    pub fn len(&self) -> usize {
        let r = self.num_replicas;
        if self.drop_last && !self.len.is_multiple_of(r) {
            self.len / r
        } else {
            self.len.div_ceil(r)
        }
    }

    /// Whether this process gets no index at all.
    ///
    /// ```
    /// assert!(stensor::data::DistributedSampler::new(1, 2, 0).unwrap().drop_last(true).is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// This process's indices for the current epoch.
    ///
    /// ```
    /// // 5 examples on 2 processes: the first index repeats to make 6
    /// let s = stensor::data::DistributedSampler::new(5, 2, 0).unwrap().shuffle(false);
    /// assert_eq!(s.indices(), [0, 2, 4]);
    /// assert_eq!(stensor::data::DistributedSampler::new(5, 2, 1).unwrap().shuffle(false).indices(), [1, 3, 0]);
    /// ```
    pub fn indices(&self) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.len).collect();
        if self.shuffle {
            shuffle(&mut order, self.seed.wrapping_add(self.epoch));
        }
        let total = self.len() * self.num_replicas;
        if order.len() < total && !order.is_empty() {
            let pad: Vec<usize> = order
                .iter()
                .copied()
                .cycle()
                .take(total - order.len())
                .collect();
            order.extend(pad);
        }
        order.truncate(total);
        order
            .into_iter()
            .skip(self.rank)
            .step_by(self.num_replicas)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_every_epoch_with_pytorchs_padding_and_dropping() {
        for len in [0, 1, 5, 7, 10, 33] {
            for replicas in 1..=4 {
                for drop_last in [false, true] {
                    for epoch in 0..3 {
                        let shards: Vec<Vec<usize>> = (0..replicas)
                            .map(|r| {
                                let mut s = DistributedSampler::new(len, replicas, r)
                                    .unwrap()
                                    .seed(9)
                                    .drop_last(drop_last);
                                s.set_epoch(epoch);
                                s.indices()
                            })
                            .collect();
                        let per = shards[0].len();
                        assert!(shards.iter().all(|s| s.len() == per));
                        let mut all: Vec<usize> = shards.concat();
                        all.sort();
                        let mut distinct = all.clone();
                        distinct.dedup();
                        if drop_last {
                            // no index twice, only the tail dropped
                            assert_eq!(distinct.len(), all.len());
                            assert_eq!(all.len(), len / replicas * replicas);
                        } else {
                            // every index, the padding's repeated ones as well
                            assert_eq!(distinct, (0..len).collect::<Vec<_>>());
                            assert_eq!(
                                all.len(),
                                if len == 0 {
                                    0
                                } else {
                                    len.div_ceil(replicas) * replicas
                                }
                            );
                        }
                    }
                }
            }
        }
    }
}
