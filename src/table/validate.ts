/**
 * Row validation: a plain function, or any Standard Schema v1 validator
 * (zod, valibot, arktype, … — https://standardschema.dev). The interface is
 * defined here, as the spec recommends, so txtdb depends on no library.
 *
 * - VAL-1  A function validator gets the row and returns the row to store
 *          (it may transform it), or undefined to store the row as given;
 *          whatever it throws refuses the row.
 * - VAL-2  A Standard Schema validator's `{ value }` is stored; its
 *          `{ issues }` refuse the row.
 * - VAL-3  A refused row is a ValidationError (TXTDB_INVALID_VALUE) carrying
 *          the validator's issues (a thrown error becomes one issue with its
 *          message, and is the `cause`); nothing is written.
 */
import { TxtDbError, type ValidationIssue } from "../errors.ts";
import { invalidRow } from "./schema.ts";

/** The Standard Schema v1 interface (https://standardschema.dev), as much of it as txtdb uses. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly "~standard": StandardSchemaV1.Props<Input, Output>;
}

// deno-lint-ignore no-namespace
export declare namespace StandardSchemaV1 {
  export interface Props<Input = unknown, Output = Input> {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => Result<Output> | Promise<Result<Output>>;
    readonly types?: Types<Input, Output> | undefined;
  }
  export type Result<Output> = SuccessResult<Output> | FailureResult;
  export interface SuccessResult<Output> {
    readonly value: Output;
    readonly issues?: undefined;
  }
  export interface FailureResult {
    readonly issues: ReadonlyArray<Issue>;
  }
  export interface Issue {
    readonly message: string;
    readonly path?: ReadonlyArray<PropertyKey | PathSegment> | undefined;
  }
  export interface PathSegment {
    readonly key: PropertyKey;
  }
  export interface Types<Input = unknown, Output = Input> {
    readonly input: Input;
    readonly output: Output;
  }
}

/** A function (VAL-1) or a Standard Schema validator (VAL-2). */
export type Validator<Row> = ((row: Row) => Row | undefined | void | Promise<Row | undefined | void>) | StandardSchemaV1<unknown, Row>;

/** The row to store, or a ValidationError (VAL-3). */
export async function runValidator<Row>(table: string, validator: Validator<Row> | undefined, row: Row): Promise<Row> {
  if (validator === undefined) return row;
  const standard = (validator as Partial<StandardSchemaV1>)["~standard"];
  if (standard !== undefined && typeof standard === "object" && standard !== null && typeof standard.validate === "function") {
    let result: StandardSchemaV1.Result<unknown>;
    try {
      result = await standard.validate(row);
    } catch (err) {
      throw invalidRow(table, [{ message: `the ${standard.vendor} validator threw: ${String((err as Error)?.message ?? err)}` }], err);
    }
    if (result.issues !== undefined) throw invalidRow(table, result.issues.length > 0 ? [...result.issues] : [{ message: "the validator reported issues" }]);
    return result.value as Row;
  }
  if (typeof validator !== "function") throw new TypeError("validate must be a function or a Standard Schema validator");
  let out: Row | undefined | void;
  try {
    out = await validator(row);
  } catch (err) {
    if (err instanceof TxtDbError && "issues" in err) throw err;
    const issues: ValidationIssue[] = [{ message: String((err as Error)?.message ?? err) }];
    throw invalidRow(table, issues, err);
  }
  return out === undefined ? row : out;
}
