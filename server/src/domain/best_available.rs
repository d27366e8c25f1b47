//! Best-available selection: `count` adjacent seats of a category in one row, nearest the ideal
//! position, avoiding single orphan seats.

use cinebook_protocol::types::{Category, SeatId};

use super::{DomainError, Layout};

/// Picks `count` adjacent free seats of `category`, or says why it cannot.
///
/// Candidates are windows of consecutive seats inside one adjacency block (an aisle breaks a
/// block). A window that would leave exactly one free seat between itself and an occupied seat,
/// an aisle or a wall makes an orphan; such windows are taken only when no other window exists.
/// Among the rest, the window nearest [`Layout::distance`]'s ideal wins; ties go to the front row,
/// then the left.
pub fn pick_best(
    layout: &Layout,
    is_free: &dyn Fn(SeatId) -> bool,
    count: u32,
    category: Category,
) -> Result<Vec<SeatId>, DomainError> {
    let wanted = count as usize;
    // (orphan, distance, block index, start) of the best window so far.
    let mut best: Option<(bool, i64, usize, usize)> = None;
    let mut largest_block = 0u32;
    let mut free = 0u32;
    for (block_index, block) in layout.blocks().iter().enumerate() {
        let fits = |id: &SeatId| is_free_of(layout, is_free, *id, category);
        let mut run = 0usize;
        for (i, id) in block.iter().enumerate() {
            if !fits(id) {
                run = 0;
                continue;
            }
            free += 1;
            run += 1;
            largest_block = largest_block.max(run as u32);
            if run < wanted {
                continue;
            }
            let start = i + 1 - wanted;
            let window = &block[start..=i];
            let orphan = leaves_orphan(is_free, block, start, i);
            let candidate = (orphan, layout.distance(window), block_index, start);
            if best.is_none_or(|b| (candidate.0, candidate.1) < (b.0, b.1)) {
                best = Some(candidate);
            }
        }
    }
    match best {
        Some((_, _, block_index, start)) => {
            Ok(layout.blocks()[block_index][start..start + wanted].to_vec())
        }
        None if free < count => Err(DomainError::SoldOut {
            category: category.name(),
            wanted: count,
            free,
        }),
        None => Err(DomainError::NoAdjacentBlock {
            category: category.name(),
            wanted: count,
            largest_block,
            free,
        }),
    }
}

fn is_free_of(
    layout: &Layout,
    is_free: &dyn Fn(SeatId) -> bool,
    id: SeatId,
    category: Category,
) -> bool {
    is_free(id) && layout.seat(id).is_some_and(|s| s.category == category)
}

/// Whether taking `block[first..=last]` leaves exactly one free seat on either side before the
/// next occupied seat or the block's edge.
fn leaves_orphan(
    seat_free: &dyn Fn(SeatId) -> bool,
    block: &[SeatId],
    first: usize,
    last: usize,
) -> bool {
    let is_free = |pos: usize| seat_free(block[pos]);
    let left_single = first >= 1 && is_free(first - 1) && (first < 2 || !is_free(first - 2));
    let right_single = last + 1 < block.len()
        && is_free(last + 1)
        && (last + 2 >= block.len() || !is_free(last + 2));
    left_single || right_single
}
