import { Migration } from '@mikro-orm/migrations';
import { distributeTables } from './Migration0009cDistribute.js';

/**
 * Event and ledger positions past one node (issue 16). A position is the
 * writing transaction's id and the read frontier a snapshot's xmin
 * (src/db/position.ts); both are one node's. On Citus a tenant's rows are
 * written on the worker holding its shards, with that worker's transaction
 * ids, so:
 *
 *  - a read of one tenant must take its frontier on the tenant's node. The
 *    reads of the outbox and the ledgers already do (one statement, routed
 *    whole to that node, computes rows and frontier there); "now", a
 *    frontier without rows, is stockroom_tenant_frontier(tenant), which
 *    Citus delegates to the tenant's node like every stockroom_tenant_*
 *    function (0009c). Plain PostgreSQL: the same xmin, from the one node.
 *  - the relay, which reads every tenant, keeps one position per node:
 *    event_relays gets a `node` (Citus' group id of the node, 0 for the
 *    coordinator and for plain PostgreSQL), and a relay's rows are keyed by
 *    name and node. Existing rows are node 0: plain PostgreSQL keeps its
 *    relay's progress.
 *  - stockroom_node_group() says which node a statement runs on, inside a
 *    statement Citus runs on every shard (each shard's part runs on that
 *    shard's node): the group id from Citus' pg_dist_local_group, or 0
 *    without Citus. The retention purge keeps what the relay has not
 *    published by comparing each event with its own node's position.
 *  - an event's xid is its node's whoever inserts it: Citus evaluates a
 *    column default of an INSERT sent through the coordinator on the
 *    coordinator (the coordinator's transaction id, from another counter),
 *    so on Citus a trigger on the shard sets it, as 0009c does for the
 *    ledgers. The service's events are written by triggers on the shard
 *    and had their node's already; an owner's INSERT (a backfill, a test)
 *    did not.
 */
export class Migration0015aNodePositions extends Migration {
  override name = '0015a_node_positions';

  override up(): void {
    this.addSql(`do $$ begin
      if exists (select from pg_extension where extname = 'citus') then
        create function stockroom_node_group() returns int
          language sql stable parallel safe set search_path = pg_catalog, pg_temp
          as 'select groupid from pg_dist_local_group';
        create function stockroom_position_on_node() returns trigger
          language plpgsql set search_path = pg_catalog, pg_temp as $body$
          begin
            new.xid := pg_current_xact_id();
            return new;
          end $body$;
        perform set_config('citus.enable_unsafe_triggers', 'on', true);
        create trigger events_position_on_node before insert on events
          for each row execute function stockroom_position_on_node();
      else
        create function stockroom_node_group() returns int
          language sql immutable parallel safe set search_path = pg_catalog, pg_temp
          as 'select 0';
      end if;
    end $$`);
    // The argument only routes the call (Citus delegates it to the tenant's node).
    this.addSql(`create function stockroom_tenant_frontier(p_tenant_id text) returns xid8
      language sql stable set search_path = pg_catalog, pg_temp
      as 'select pg_snapshot_xmin(pg_current_snapshot())'`);
    this.addSql(`alter table event_relays add column node int not null default 0`);
    this.addSql(`alter table event_relays drop constraint event_relays_pkey`);
    this.addSql(`alter table event_relays add constraint event_relays_pkey primary key (name, node)`);
    this.addSql(distributeTables());
  }
}
