//! An order-keeping parallel map, for the JSON decoding that dominates large ledgers.

/// `f` over `items` on every core, results in item order. If a worker panics (no decoder is
/// known to), its items get `fallback` instead, so no item is ever lost.
pub(crate) fn map<T: Sync, U: Send>(
    items: &[T],
    f: impl Fn(&T) -> U + Sync,
    fallback: impl Fn(&T) -> U,
) -> Vec<U> {
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let chunk = items.len().div_ceil(threads).max(1);
    let f = &f;
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| {
                // guard: a panic in the worker is caught there, without a message on stderr.
                let worker =
                    move || crate::ledger::guard(|| part.iter().map(f).collect::<Vec<U>>());
                (part, scope.spawn(worker))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(part, h)| match h.join() {
                Ok(Ok(out)) => out,
                _ => part.iter().map(&fallback).collect(),
            })
            .collect()
    })
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
    fn a_panicking_worker_yields_the_fallback_for_its_items() {
        let items: Vec<u32> = (0..8).collect();
        let out = super::map(
            &items,
            |x| if *x == 0 { panic!("boom") } else { *x },
            |_| 99,
        );
        assert_eq!(out.len(), 8);
        assert_eq!(out[0], 99, "the panicking item's chunk falls back");
        assert_eq!(out[7], 7, "other chunks are kept");
    }
}
