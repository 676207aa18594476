//! Size classes: how non-moving backends round object sizes to cells.
//!
//! A backend that allocates objects in pages of equal cells (refcount's
//! slabs, tricolor's spans) lists its cell sizes once, in increasing
//! multiples of 8, and builds a [`SizeClasses`] from them at compile
//! time. Sizes up to `8 * (N - 1)` are classed by one table lookup; larger
//! ones (up to the biggest class) by a binary search over the list. The
//! table is checked when it is built: a list that is not increasing, not
//! in multiples of 8, or too short to cover the lookup range does not
//! compile.
//!
//! Cell sizes are the backend's choice (its header, its page size and the
//! waste it accepts); the lookup code is the same for all.

/// A list of cell sizes and the table that classes a size in one lookup.
/// `N` is the number of table entries: sizes up to `8 * (N - 1)` bytes.
pub struct SizeClasses<const N: usize> {
    sizes: &'static [u32],
    /// `lookup[size.div_ceil(8)]` is the class of a `size`-byte object.
    lookup: [u8; N],
}

impl<const N: usize> SizeClasses<N> {
    /// The classes with cells of `sizes` bytes (increasing multiples of
    /// 8, at most 256 classes, the last at least `8 * (N - 1)`). Meant for
    /// a `static`; a bad list is a compile-time error there.
    pub const fn new(sizes: &'static [u32]) -> Self {
        assert!(!sizes.is_empty() && sizes.len() <= 256, "1 to 256 classes");
        let mut c = 0;
        while c < sizes.len() {
            assert!(sizes[c].is_multiple_of(8), "cell sizes are multiples of 8");
            assert!(c == 0 || sizes[c] > sizes[c - 1], "cell sizes increase");
            c += 1;
        }
        assert!(
            sizes[sizes.len() - 1] as usize >= (N - 1) * 8,
            "the classes cover the lookup table"
        );
        let mut lookup = [0u8; N];
        let (mut i, mut c) = (0, 0);
        while i < N {
            while (sizes[c] as usize) < i * 8 {
                c += 1;
            }
            lookup[i] = c as u8;
            i += 1;
        }
        SizeClasses { sizes, lookup }
    }

    /// The class of a `size`-byte object, or `None` if it is larger than
    /// the largest cell.
    #[inline]
    pub fn class_of(&self, size: usize) -> Option<usize> {
        if let Some(&c) = self.lookup.get(size.div_ceil(8)) {
            return Some(c as usize);
        }
        if size > self.max() {
            return None;
        }
        Some(self.sizes.partition_point(|&c| (c as usize) < size))
    }

    /// The class of a `size`-byte object that the lookup table covers
    /// (`size <= 8 * (N - 1)`; larger sizes panic).
    #[inline]
    pub fn lookup(&self, size: usize) -> usize {
        self.lookup[size.div_ceil(8)] as usize
    }

    /// The cell size of `class`.
    #[inline]
    pub fn size(&self, class: usize) -> usize {
        self.sizes[class] as usize
    }

    /// The number of classes.
    pub fn len(&self) -> usize {
        self.sizes.len()
    }

    /// Whether there are no classes (never: `new` requires one).
    pub fn is_empty(&self) -> bool {
        self.sizes.is_empty()
    }

    /// The largest cell size.
    pub fn max(&self) -> usize {
        self.sizes[self.sizes.len() - 1] as usize
    }

    /// Checks, for every multiple of 8 from `min` to [`max`](Self::max),
    /// that its class is the smallest whose cells hold it and that the cell
    /// wastes at most `max_waste` of the size plus 8 bytes. For the
    /// backends' unit tests of their tables.
    pub fn check(&self, min: usize, max_waste: f64) -> Result<(), String> {
        for size in (min..=self.max()).step_by(8) {
            let c = self
                .class_of(size)
                .ok_or(format!("{size} bytes has no class"))?;
            let cell = self.size(c);
            if cell < size || (c > 0 && self.size(c - 1) >= size) {
                return Err(format!("{size} bytes -> class {c} of {cell}-byte cells"));
            }
            if cell as f64 > size as f64 * (1.0 + max_waste) + 8.0 {
                return Err(format!("{size} bytes wastes too much in {cell}-byte cells"));
            }
        }
        if self.class_of(self.max() + 1).is_some() {
            return Err("a size past the largest cell has a class".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static SMALL: SizeClasses<5> = SizeClasses::new(&[16, 32, 48, 96]);

    #[test]
    fn lookup_and_search_agree() {
        assert_eq!(SMALL.class_of(8), Some(0));
        assert_eq!(SMALL.class_of(17), Some(1));
        assert_eq!(SMALL.class_of(32), Some(1));
        assert_eq!(SMALL.class_of(40), Some(2), "past the table: searched");
        assert_eq!(SMALL.class_of(96), Some(3));
        assert_eq!(SMALL.class_of(97), None);
        assert_eq!(SMALL.lookup(24), 1);
        assert_eq!((SMALL.len(), SMALL.max(), SMALL.size(2)), (4, 96, 48));
        assert!(SMALL.check(8, 1.0).is_ok());
        assert!(SMALL.check(8, 0.1).is_err(), "49 bytes in a 96-byte cell");
    }
}
