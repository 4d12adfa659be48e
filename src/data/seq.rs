//! What `torch.utils.data` gives sequence users: a [`Dataset`] trait over items of any type, a
//! [`DataLoader`] (seeded shuffling, batching, the last partial batch kept or dropped, a collate
//! function), and padding of variable-length sequences into batches with runtime batch and
//! length dims ([`pad_sequence`], [`pad_ids`], [`padding_mask`]).

use crate::error::{Error, Result};
use crate::shape::{InsertAxis, Shape};
use crate::tensor::{Element, Indices, Mask, Tensor};

/// Items by index (PyTorch's map-style `Dataset`): any item type, e.g. `(Vec<i64>, usize)` for
/// a token sequence and its class. A `Vec` of cloneable items is one.
///
/// ```
/// use stensor::data::Dataset;
/// let texts = vec![(vec![4i64, 2], 1usize), (vec![7], 0)];
/// assert_eq!(Dataset::len(&texts), 2);
/// assert_eq!(texts.get_item(1), (vec![7], 0));
/// ```
pub trait Dataset {
    /// One item.
    type Item;
    /// The number of items.
    ///
    /// ```
    /// use stensor::data::Dataset;
    /// assert_eq!(Dataset::len(&vec![1, 2, 3]), 3);
    /// ```
    fn len(&self) -> usize;
    /// Item `i` (`i < len()`).
    ///
    /// ```
    /// use stensor::data::Dataset;
    /// assert_eq!(vec!['a', 'b'].get_item(0), 'a');
    /// ```
    fn get_item(&self, i: usize) -> Self::Item;
    /// Whether there are no items.
    ///
    /// ```
    /// use stensor::data::Dataset;
    /// assert!(Dataset::is_empty(&Vec::<u8>::new()));
    /// ```
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Clone> Dataset for Vec<T> {
    type Item = T;
    fn len(&self) -> usize {
        self.as_slice().len()
    }
    fn get_item(&self, i: usize) -> T {
        self[i].clone()
    }
}

/// The items of a [`Dataset`] in batches (PyTorch's `DataLoader`): `batch_size` items at a time
/// in order, or in a seeded shuffled order; the last partial batch kept unless `drop_last`;
/// each batch passed through a collate function (by default the `Vec` of items).
///
/// ```
/// use stensor::data::DataLoader;
/// let data: Vec<u32> = (0..10).collect();
/// let batches: Vec<Vec<u32>> = DataLoader::new(&data, 4).collect();
/// assert_eq!(batches, vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7], vec![8, 9]]);
/// let sums: Vec<u32> = DataLoader::new(&data, 4)
///     .drop_last(true)
///     .collate(|b: Vec<u32>| b.iter().sum())
///     .collect();
/// assert_eq!(sums, vec![6, 22]);
/// ```
pub struct DataLoader<
    'a,
    D: Dataset,
    F = fn(Vec<<D as Dataset>::Item>) -> Vec<<D as Dataset>::Item>,
> {
    data: &'a D,
    order: Vec<usize>,
    next: usize,
    batch: usize,
    drop_last: bool,
    collate: F,
}

impl<'a, D: Dataset> DataLoader<'a, D> {
    /// Batches of `batch_size` items, in order, the last partial batch kept.
    ///
    /// ```
    /// use stensor::data::DataLoader;
    /// let data = vec![1, 2, 3];
    /// assert_eq!(DataLoader::new(&data, 2).len(), 2);
    /// ```
    ///
    /// # Panics
    /// If `batch_size` is 0 (PyTorch raises too).
    pub fn new(data: &'a D, batch_size: usize) -> Self {
        assert!(
            batch_size > 0,
            "batch_size should be a positive integer, but got 0"
        );
        DataLoader {
            data,
            order: (0..data.len()).collect(),
            next: 0,
            batch: batch_size,
            drop_last: false,
            collate: |items| items,
        }
    }
}

impl<'a, D: Dataset, F> DataLoader<'a, D, F> {
    /// The items in an order shuffled by `seed` (the same seed, the same order: seed with the
    /// epoch for a new order each epoch).
    ///
    /// ```
    /// use stensor::data::DataLoader;
    /// let data: Vec<u8> = (0..6).collect();
    /// let a: Vec<Vec<u8>> = DataLoader::new(&data, 6).shuffle(1).collect();
    /// let b: Vec<Vec<u8>> = DataLoader::new(&data, 6).shuffle(1).collect();
    /// assert_eq!(a, b);
    /// let mut sorted = a[0].clone();
    /// sorted.sort();
    /// assert_eq!(sorted, data);
    /// ```
    pub fn shuffle(mut self, seed: u64) -> Self {
        super::shuffle(&mut self.order, seed);
        self
    }

    /// Drops the last batch when it is partial (PyTorch's `drop_last`).
    ///
    /// ```
    /// use stensor::data::DataLoader;
    /// let data = vec![0; 5];
    /// assert_eq!(DataLoader::new(&data, 2).drop_last(true).count(), 2);
    /// ```
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// Each batch's items passed through `f` (PyTorch's `collate_fn`), e.g. into padded
    /// tensors.
    ///
    /// ```
    /// use stensor::prelude::*;
    /// use stensor::data::{pad_ids, DataLoader};
    /// let data = vec![vec![3i64, 1, 4], vec![1, 5]];
    /// let mut batches = DataLoader::new(&data, 2).collate(|b: Vec<Vec<i64>>| pad_ids(&b, 0));
    /// let (ids, lengths) = batches.next().unwrap();
    /// assert_eq!((ids.dims(), lengths), ([2, 3].into(), vec![3, 2]));
    /// ```
    pub fn collate<G, B>(self, f: G) -> DataLoader<'a, D, G>
    where
        G: FnMut(Vec<D::Item>) -> B,
    {
        DataLoader {
            data: self.data,
            order: self.order,
            next: self.next,
            batch: self.batch,
            drop_last: self.drop_last,
            collate: f,
        }
    }
}

impl<D: Dataset, F: FnMut(Vec<D::Item>) -> B, B> Iterator for DataLoader<'_, D, F> {
    type Item = B;

    fn next(&mut self) -> Option<B> {
        let left = self.order.len() - self.next;
        let n = left.min(self.batch);
        if n == 0 || (n < self.batch && self.drop_last) {
            return None;
        }
        let items = self.order[self.next..self.next + n]
            .iter()
            .map(|&i| self.data.get_item(i))
            .collect();
        self.next += n;
        Some((self.collate)(items))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = super::batches_left(self.order.len() - self.next, self.batch, self.drop_last);
        (n, Some(n))
    }
}

impl<D: Dataset, F: FnMut(Vec<D::Item>) -> B, B> ExactSizeIterator for DataLoader<'_, D, F> {}

/// Token sequences of different lengths as one `(batch, longest)` batch of ids, each padded at
/// the end with `padding_value`, and their lengths (PyTorch's
/// `pad_sequence(batch_first=True)` on `int64` sequences).
///
/// ```
/// use stensor::prelude::*;
/// use stensor::data::pad_ids;
/// let (ids, lengths) = pad_ids(&[vec![5, 6, 7], vec![8]], 0);
/// assert_eq!(ids.to_string(), "tensor([[5, 6, 7],\n        [8, 0, 0]])");
/// assert_eq!(lengths, vec![3, 1]);
/// ```
pub fn pad_ids<Q: AsRef<[i64]>>(
    seqs: &[Q],
    padding_value: i64,
) -> (Indices<(usize, usize)>, Vec<usize>) {
    let lengths: Vec<usize> = seqs.iter().map(|s| s.as_ref().len()).collect();
    let longest = lengths.iter().copied().max().unwrap_or(0);
    let mut ids = Vec::with_capacity(seqs.len() * longest);
    for s in seqs {
        let s = s.as_ref();
        ids.extend_from_slice(s);
        ids.extend(std::iter::repeat_n(padding_value, longest - s.len()));
    }
    let ids = Indices::from_vec_shaped((seqs.len(), longest), ids).expect("batch x longest ids");
    (ids, lengths)
}

/// Where a padded `(batch, longest)` batch holds padding: `true` at position `j` of sequence
/// `i` when `j >= lengths[i]` (PyTorch's `key_padding_mask` convention). With `masked_fill`
/// it keeps padding out of a mean or an attention.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::data::padding_mask;
/// let m = padding_mask(&[2, 3], 3);
/// assert_eq!(m.to_vec(), vec![false, false, true, false, false, false]);
/// ```
pub fn padding_mask(lengths: &[usize], longest: usize) -> Mask<(usize, usize)> {
    Mask::from_fn_shaped((lengths.len(), longest), |ix| ix[1] >= lengths[ix[0]])
}

/// Sequences of shape `(L_i, ..)` (the length a runtime first dim) as one padded batch
/// (PyTorch's `pad_sequence`): `(batch, longest, ..)` when `batch_first`, else
/// `(longest, batch, ..)`, padded with `padding_value`. `Err` naming both shapes when the
/// sequences' other dims differ.
///
/// ```
/// use stensor::prelude::*;
/// use stensor::data::pad_sequence;
/// let a = Tensor::<(usize, U2)>::from_vec_shaped((2, U2::new()), vec![1.0, 2.0, 3.0, 4.0]).unwrap();
/// let b = Tensor::<(usize, U2)>::from_vec_shaped((1, U2::new()), vec![5.0, 6.0]).unwrap();
/// let batch = pad_sequence(&[a.clone(), b.clone()], true, 0.0).unwrap();
/// assert_eq!((batch.dims(), batch.to_vec()), ([2, 2, 2].into(), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 0.0, 0.0]));
/// let time_major = pad_sequence(&[a, b], false, -1.0).unwrap();
/// assert_eq!(time_major.to_vec(), vec![1.0, 2.0, 5.0, 6.0, 3.0, 4.0, -1.0, -1.0]);
/// ```
pub fn pad_sequence<S, E>(
    seqs: &[Tensor<S, E>],
    batch_first: bool,
    padding_value: f64,
) -> Result<Tensor<<S as InsertAxis<0, usize>>::Output, E>>
where
    S: Shape + InsertAxis<0, usize>,
    E: Element,
{
    let Some(first) = seqs.first() else {
        return Err(Error::Mismatch {
            op: "pad_sequence of no sequences".into(),
            left: vec![],
            right: vec![],
        });
    };
    let rest = first.dims()[1..].to_vec();
    for s in seqs {
        if s.dims()[1..] != rest[..] {
            return Err(Error::Mismatch {
                op: "pad_sequence".into(),
                left: first.dims().to_vec(),
                right: s.dims().to_vec(),
            });
        }
    }
    let per: usize = rest.iter().product();
    let longest = seqs.iter().map(|s| s.dims()[0]).max().unwrap_or(0);
    let n = seqs.len();
    let pad = E::from_f64(padding_value);
    let mut y = vec![pad; n * longest * per];
    for (i, s) in seqs.iter().enumerate() {
        for (t, step) in s.as_slice().chunks_exact(per.max(1)).enumerate() {
            let at = if batch_first {
                i * longest + t
            } else {
                t * n + i
            };
            y[at * per..][..per].copy_from_slice(step);
        }
    }
    let (a, b) = if batch_first {
        (n, longest)
    } else {
        (longest, n)
    };
    // the first dim of each sequence is its length: the output's dims are (a, b, rest..)
    let mut dims = vec![a, b];
    dims.extend_from_slice(&rest);
    Tensor::from_dims_vec(&dims, y)
}
