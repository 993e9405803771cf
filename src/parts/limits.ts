/**
 * Every bound of the parts API in one place. parts_service.proto documents
 * the same numbers and the migration's CHECK constraints repeat the ones that
 * protect stored data; change all three together.
 */
import { HEALTH_EXAMPLES_MAX } from '../shared/health-report.js';

export const LIMITS = {
  part_number_length_max: 64,
  part_name_length_max: 200,
  description_length_max: 2_000,
  /** make, category, component. */
  attribute_length_max: 100,
  site_length_max: 64,
  location_name_length_max: 100,
  work_order_id_length_max: 128,
  receipt_id_length_max: 128,
  reason_length_max: 500,
  text_filter_length_max: 100,
  movement_type_filters_max: 8,
  /**
   * Layers (or work-order lines, for a return) one operation may touch. Bounds
   * the rows locked and written by one transaction; beyond it the caller
   * splits the operation.
   */
  layers_per_operation_max: 10_000,
  /** First FIFO read; most operations touch a handful of layers. Doubles per further read. */
  layers_first_read: 8,
  page_size_default: 100,
  page_size_max: 1_000,
  /** Examples per category of CheckInventoryHealth, differences per Reconcile row (the same for both services). */
  examples_max: HEALTH_EXAMPLES_MAX,
  fifo_check_default: 1_000,
  fifo_check_max: 10_000,
  /** Part summaries per GetWorkOrderParts. */
  work_order_parts_max: 1_000,
  /** Clock skew allowed for a received_date "now" from another machine. */
  received_date_future_skew_ms: 5 * 60_000,
} as const;
