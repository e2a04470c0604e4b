import { describe, expect, it } from 'vitest';
import { validateDefinition, type LocalAction, type SagaDefinition, type SagaStep } from './definition.js';

const action: LocalAction<unknown> = { type: 'local', invoke: () => Promise.resolve({ status: 'succeeded' }) };
const step = (name: string, kind: SagaStep<unknown>['kind'], extra: Partial<SagaStep<unknown>> = {}): SagaStep<unknown> => ({ name, kind, action, ...extra });
const saga = (steps: SagaStep<unknown>[], version = 1): SagaDefinition<unknown> => ({ name: 'test', version, steps });

describe('validateDefinition', () => {
  it('accepts compensatable steps, then a pivot, then retriable steps', () => {
    const definition = saga([step('a', 'compensatable', { compensation: action }), step('b', 'pivot'), step('c', 'retriable')]);
    expect(validateDefinition(definition)).toBe(definition);
  });

  it('rejects duplicate step names', () => {
    expect(() => validateDefinition(saga([step('a', 'compensatable'), step('a', 'pivot')]))).toThrow(/step a is defined twice/);
  });

  it('rejects a compensatable step after the pivot and a second pivot', () => {
    expect(() => validateDefinition(saga([step('a', 'pivot'), step('b', 'compensatable')]))).toThrow(/comes after a pivot/);
    expect(() => validateDefinition(saga([step('a', 'pivot'), step('b', 'pivot')]))).toThrow(/second pivot/);
  });

  it('rejects retriable steps without a pivot before them', () => {
    expect(() => validateDefinition(saga([step('a', 'compensatable'), step('b', 'retriable')]))).toThrow(/needs a pivot/);
  });

  it('rejects a compensation on a pivot or retriable step', () => {
    expect(() => validateDefinition(saga([step('a', 'pivot', { compensation: action })]))).toThrow(/cannot have a compensation/);
  });

  it('rejects an empty definition, a bad version, a bad retry policy and a bad timeout', () => {
    expect(() => validateDefinition(saga([]))).toThrow(/no steps/);
    expect(() => validateDefinition(saga([step('a', 'pivot')], 0))).toThrow(/version/);
    expect(() => validateDefinition(saga([step('a', 'pivot', { action: { ...action, retry: { maxAttempts: 0, baseDelayMs: 1, maxDelayMs: 1 } } })]))).toThrow(/maxAttempts/);
    expect(() => validateDefinition(saga([step('a', 'pivot', { action: { ...action, timeoutMs: -5 } })]))).toThrow(/timeoutMs/);
  });
});
