/**
 * One form shape for every write: labelled fields, the server's field
 * violations beside the field they name, progress while the call runs, and
 * the response (allocations, balances) shown after it. Forms never block the
 * rest of the page.
 */
import { useId, useState, type FormEvent, type ReactNode } from 'react';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import { InputError, ProblemBox, problemOf, violationFor, type Problem } from './problems.js';

export interface FieldSpec {
  /** The request field's name as the server's violations name it (snake_case). */
  readonly name: string;
  readonly label: string;
  readonly kind?: 'text' | 'quantity' | 'date' | 'select' | 'textarea';
  readonly options?: readonly { value: string; label: string }[];
  readonly required?: boolean;
  readonly initial?: string;
  readonly hint?: string;
}

export type Values = Record<string, string>;

export interface ActionFormProps<Result> {
  readonly title: string;
  readonly fields: readonly FieldSpec[];
  readonly submitLabel: string;
  readonly run: (values: Values) => Promise<Result>;
  readonly renderResult?: (result: Result) => ReactNode;
  /** Keep the typed values after success (default: clear them). */
  readonly keepValues?: boolean;
  /** Called with the response, e.g. to open the page of what was created. */
  readonly onDone?: (result: Result) => void;
}

function initialValues(fields: readonly FieldSpec[]): Values {
  return Object.fromEntries(fields.map((field) => [field.name, field.initial ?? (field.kind === 'select' ? field.options?.[0]?.value ?? '' : '')]));
}

export function ActionForm<Result>({ title, fields, submitLabel, run, renderResult, keepValues, onDone }: ActionFormProps<Result>) {
  const form_id = useId();
  const query_client = useQueryClient();
  const [values, setValues] = useState<Values>(() => initialValues(fields));
  const mutation = useMutation({
    mutationFn: run,
    // Every page shows server state; after a write, all of it may be stale.
    onSuccess: async (result) => {
      if (!keepValues) setValues(initialValues(fields));
      await query_client.invalidateQueries();
      // After the re-read, so leaving the page does not cut its calls short.
      onDone?.(result);
    },
  });
  const problem = mutation.error ? problemOf(mutation.error) : null;
  const submit = (event: FormEvent) => {
    event.preventDefault();
    if (!mutation.isPending) mutation.mutate(values);
  };
  return (
    <form className="action-form" onSubmit={submit} aria-labelledby={`${form_id}-title`} noValidate>
      <h3 id={`${form_id}-title`}>{title}</h3>
      {fields.map((field) => (
        <Field
          key={field.name}
          id={`${form_id}-${field.name}`}
          spec={field}
          value={values[field.name] ?? ''}
          error={violationFor(problem, field.name)}
          onChange={(value) => setValues((previous) => ({ ...previous, [field.name]: value }))}
        />
      ))}
      <div className="form-actions">
        <button type="submit" disabled={mutation.isPending} aria-busy={mutation.isPending}>
          {mutation.isPending ? 'Working…' : submitLabel}
        </button>
        {mutation.isPending && <progress aria-label={`${title} in progress`} />}
      </div>
      <ProblemBox problem={problem} shownFields={fields.map((field) => field.name)} />
      {mutation.isSuccess && (
        <div className="result" role="status">
          {renderResult ? renderResult(mutation.data) : <p>Done.</p>}
        </div>
      )}
    </form>
  );
}

function Field({ id, spec, value, error, onChange }: { id: string; spec: FieldSpec; value: string; error?: string; onChange: (value: string) => void }) {
  const error_id = `${id}-error`;
  const hint_id = `${id}-hint`;
  const described = [spec.hint ? hint_id : '', error ? error_id : ''].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    name: spec.name,
    value,
    'aria-invalid': error ? true : undefined,
    'aria-describedby': described,
    'aria-required': spec.required || undefined,
  };
  let control: ReactNode;
  if (spec.kind === 'select') {
    control = (
      <select {...common} onChange={(event) => onChange(event.target.value)}>
        {spec.options?.map((option) => (
          <option key={option.value} value={option.value}>
            {option.label}
          </option>
        ))}
      </select>
    );
  } else if (spec.kind === 'textarea') {
    control = <textarea {...common} rows={2} onChange={(event) => onChange(event.target.value)} />;
  } else {
    // Quantities stay text so the server, the one authority, judges them.
    const type = spec.kind === 'date' ? 'date' : 'text';
    control = <input {...common} type={type} inputMode={spec.kind === 'quantity' ? 'decimal' : undefined} autoComplete="off" onChange={(event) => onChange(event.target.value)} />;
  }
  return (
    <div className={`field${error ? ' field-invalid' : ''}`} data-field={spec.name}>
      <label htmlFor={id}>
        {spec.label}
        {spec.required ? <span aria-hidden="true"> *</span> : null}
      </label>
      {control}
      {spec.hint && (
        <small id={hint_id} className="muted">
          {spec.hint}
        </small>
      )}
      {error && (
        <span id={error_id} className="field-error">
          {error}
        </span>
      )}
    </div>
  );
}

/** A whole number of units for int64 fields; an InputError beside the field otherwise. */
export function wholeNumber(values: Values, field: string): bigint {
  const text = (values[field] ?? '').trim();
  if (!/^-?\d{1,19}$/.test(text)) throw new InputError(field, 'enter a whole number of units');
  return BigInt(text);
}

/** Shows a problem from a read (a query) in place, without taking over the page. */
export function QueryProblem({ error }: { error: unknown }) {
  if (!error) return null;
  return <ProblemBox problem={problemOf(error) as Problem} />;
}
