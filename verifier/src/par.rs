//! An order-keeping parallel map on rayon's pool, for the JSON decoding that dominates large
//! ledgers.

/// `f` over `items` on rayon's pool, results in item order. An item whose `f` panics (no decoder
/// is known to) gets `fallback` instead, alone: its neighbours keep their results, and no item is
/// ever lost.
pub(crate) fn map<T: Sync, U: Send>(
    items: &[T],
    f: impl Fn(&T) -> U + Sync,
    fallback: impl Fn(&T) -> U + Sync,
) -> Vec<U> {
    // guard: the panic is caught on the worker, without a message on stderr.
    let one =
        |item: &T| crate::evidence::ledger::guard(|| f(item)).unwrap_or_else(|_| fallback(item));
    let mut out = Vec::with_capacity(items.len());
    split(items, &one, &mut out);
    out
}

/// Below this many items a half is decoded in place: splitting further costs more than it saves.
const LEAF: usize = 64;

/// Divide and conquer on `rayon_core::join`: halves run in parallel when a worker is free (work
/// stealing), in order on one thread otherwise; results are appended in item order.
fn split<T: Sync, U: Send>(items: &[T], one: &(impl Fn(&T) -> U + Sync), out: &mut Vec<U>) {
    if items.len() <= LEAF {
        out.extend(items.iter().map(one));
        return;
    }
    let (left, right) = items.split_at(items.len() / 2);
    let (mut a, b) = rayon_core::join(
        || {
            let mut a = Vec::with_capacity(left.len());
            split(left, one, &mut a);
            a
        },
        || {
            let mut b = Vec::with_capacity(right.len());
            split(right, one, &mut b);
            b
        },
    );
    out.append(&mut a);
    out.extend(b);
}

#[cfg(test)]
mod tests {
    #[test]
    fn order_is_kept_and_nothing_is_lost() {
        let items: Vec<u32> = (0..1001).collect();
        let out = super::map(&items, |x| x * 2, |_| u32::MAX);
        assert_eq!(out, items.iter().map(|x| x * 2).collect::<Vec<_>>());
        assert!(super::map(&[] as &[u32], |x| *x, |_| 0).is_empty());
    }

    #[test]
    fn a_panicking_item_alone_yields_the_fallback() {
        // Whatever the number of CPUs (one worker or many), only the panicking items fall back.
        let items: Vec<u32> = (0..1000).collect();
        let out = super::map(
            &items,
            |x| if x % 7 == 3 { panic!("boom") } else { *x },
            |_| 99,
        );
        let want: Vec<u32> = items
            .iter()
            .map(|x| if x % 7 == 3 { 99 } else { *x })
            .collect();
        assert_eq!(out, want);
    }

    #[test]
    fn a_single_thread_pool_gives_the_same_result() {
        // The one-CPU case, forced: a pool of one thread runs every item, fallbacks included.
        let pool = rayon_core::ThreadPoolBuilder::new()
            .num_threads(1)
            .build()
            .unwrap();
        let items: Vec<u32> = (0..300).collect();
        let out = pool.install(|| {
            super::map(
                &items,
                |x| if *x == 0 { panic!("boom") } else { *x },
                |_| 99,
            )
        });
        assert_eq!(out[0], 99);
        assert_eq!(out[1..], items[1..]);
    }
}
