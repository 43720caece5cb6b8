// Pipeline spec module: types, parsing (YAML/JSON), validation, matrix, interpolation, command validator.
export * from './types.ts';
export * from './units.ts';
export * from './parse.ts';
export * from './schema.ts';
export * from './validate.ts';
export * from './validator.ts';
export * from './matrix.ts';
export * from './interpolate.ts';
export { shellQuote } from '../../runner/quote.ts';
export * from './params.ts';
export * from './suggest.ts';
