import { Migration } from '@mikro-orm/migrations';
import { MOVE_LEGACY_GRANTS, RUNTIME_ROLE } from './sql.js';

/**
 * One runtime role per deployment (issue 10, item 4). The migration runner
 * has already created this database's runtime role (src/db/migrate.ts);
 * here the grants of the cluster-wide `stockroom_app` move to it, only the
 * deployment's roles may connect to this database, and `stockroom_app` is
 * dropped once no database on the cluster uses it any more (while one still
 * does, it stays, holding nothing here).
 */
export class Migration0005bRuntimeRole extends Migration {
  override name = '0005b_runtime_role';

  override up(): void {
    this.addSql(MOVE_LEGACY_GRANTS);
    // Membership in another deployment's role must not even open a session
    // here. Only the database's owner (or a superuser) may change who
    // connects; anyone else migrating gets a warning with the SQL to run.
    this.addSql(`do $$
    declare
      runtime constant text := ${RUNTIME_ROLE};
      owner_oid oid := (select datdba from pg_database where datname = current_database());
    begin
      if (select rolsuper from pg_roles where rolname = current_user) or pg_has_role(current_user, owner_oid, 'MEMBER') then
        execute format('revoke connect, temporary on database %I from public', current_database());
        execute format('grant connect, temporary on database %I to %I', current_database(), runtime);
      else
        raise warning 'only the owner of database % can limit who connects; run as it: revoke connect, temporary on database % from public; grant connect, temporary on database % to %',
          current_database(), quote_ident(current_database()), quote_ident(current_database()), quote_ident(runtime);
      end if;
    end $$`);
    this.addSql(`do $$ begin
      if exists (select from pg_roles where rolname = 'stockroom_app') then
        drop role stockroom_app;
      end if;
    exception when others then
      raise notice 'stockroom_app is still used on this cluster (%); it stays, with no privilege in this database', sqlerrm;
    end $$`);
  }
}
