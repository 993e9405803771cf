/**
 * Every bound of the inventory API in one place. The proto comments document
 * the same numbers and the migration's CHECK constraints repeat the ones that
 * protect stored data; change all three together.
 */
export const LIMITS = {
  /** Lines per Reserve/Release/CommitOutbound/CheckAvailability request, and product ids per ListItems filter. */
  lines_per_request: 100,
  /** Distinct products one order reference may hold (bounds GetReservation and release-all). */
  products_per_reference: 1_000,
  /** Units per line, per inbound/return/damage, and per adjustment (either sign). */
  quantity_max: 1_000_000_000_000n,
  /** Highest on_hand of an item, far below int64 so sums of lines can never overflow. */
  on_hand_max: 1_000_000_000_000_000n,
  reorder_point_max: 1_000_000_000_000n,
  product_id_length_max: 128,
  sku_length_max: 64,
  name_length_max: 200,
  reference_length_max: 128,
  notes_length_max: 1_000,
  reason_length_max: 500,
  page_size_default: 50,
  page_size_max: 500,
} as const;
