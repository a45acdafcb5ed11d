/** Column helpers for migrations: Kysely does not tell a migration its dialect, so it is passed in (kysely#1191). */
import type { CreateTableBuilder } from 'kysely';
import type { Dialect } from '../database.js';

/** Adds an auto-incrementing integer primary key named `id`. */
export function withId<T extends string>(table: CreateTableBuilder<T, never>, dialect: Dialect): CreateTableBuilder<T, 'id'> {
  return dialect === 'postgres'
    ? table.addColumn('id', 'serial', (c) => c.primaryKey())
    : table.addColumn('id', 'integer', (c) => c.primaryKey().autoIncrement());
}

/** Column type for floating-point values. */
export function floatType(dialect: Dialect): 'real' | 'double precision' {
  return dialect === 'postgres' ? 'double precision' : 'real';
}
