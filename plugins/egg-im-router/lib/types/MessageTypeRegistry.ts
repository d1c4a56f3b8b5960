import 'reflect-metadata';
import assert from 'node:assert';
import { validate as classValidate, type ValidationError, type ValidatorOptions } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { ImError, type JsonObject } from 'egg-im-protocol';
import { validateText } from './TextContent';

/** Validates `content` and returns the problems found (empty when valid). Never changes `content`. */
export type ContentValidator = (content: JsonObject) => string[] | Promise<string[]>;

export interface MessageTypeDefinition {
  /** A class decorated with class-validator; `content` is checked against an instance built from it. */
  schema?: new () => object;
  /** A plain validation function, instead of or besides `schema`. */
  validate?: ContentValidator;
  /** Overrides the default class-validator options for this type. */
  validatorOptions?: ValidatorOptions;
  description?: string;
}

const NAME = /^[a-z][a-z0-9_.:-]{0,63}$/i;

/**
 * Stated explicitly so that validation never transforms: no whitelist stripping, unknown nested values
 * refused, missing properties checked. `content` is stored and delivered exactly as sent.
 */
export const DEFAULT_VALIDATOR_OPTIONS: ValidatorOptions = Object.freeze({
  whitelist: false,
  forbidNonWhitelisted: false,
  forbidUnknownValues: true,
  skipMissingProperties: false,
  validationError: { target: false, value: false },
});

/** The custom message types, like egg-view's ViewManager: `register(name, definition)`. */
export class MessageTypeRegistry extends Map<string, Readonly<MessageTypeDefinition>> {
  constructor() {
    super();
    this.register('text', { validate: validateText, description: 'plain text: { text } (other keys are kept)' });
  }

  register(name: string, definition: MessageTypeDefinition): this {
    assert(typeof name === 'string' && NAME.test(name),
      `[egg-im-router] message type name must match ${NAME}, got ${JSON.stringify(name)}`);
    assert(!this.has(name), `[egg-im-router] message type "${name}" is already registered`);
    assert(definition && typeof definition === 'object', `[egg-im-router] message type "${name}" needs a definition object`);
    const { schema, validate } = definition;
    assert(schema !== undefined || validate !== undefined,
      `[egg-im-router] message type "${name}" needs a class-validator \`schema\` class or a \`validate\` function`);
    assert(schema === undefined || typeof schema === 'function', `[egg-im-router] message type "${name}": \`schema\` must be a class`);
    assert(validate === undefined || typeof validate === 'function', `[egg-im-router] message type "${name}": \`validate\` must be a function`);
    return super.set(name, Object.freeze({ ...definition }));
  }

  /** Map#set would skip the checks: registration goes through `register`. */
  override set(name: string, definition: MessageTypeDefinition): this {
    return this.register(name, definition);
  }

  /** Throws UNKNOWN_MESSAGE_TYPE or VALIDATION_FAILED; resolves when `content` is valid for `type`. */
  async check(type: string, content: JsonObject): Promise<void> {
    const definition = this.get(type);
    if (!definition) throw new ImError('UNKNOWN_MESSAGE_TYPE', `message type "${type}" is not registered`, { type });
    const problems: string[] = [];
    if (definition.schema) {
      const instance = plainToInstance(definition.schema, content, { enableImplicitConversion: false });
      const errors = await classValidate(instance as object, { ...DEFAULT_VALIDATOR_OPTIONS, ...definition.validatorOptions });
      problems.push(...flatten(errors, 'content'));
    }
    if (definition.validate) problems.push(...await definition.validate(content));
    if (problems.length > 0) {
      throw new ImError('VALIDATION_FAILED', problems[0], { type, problems });
    }
  }
}

function flatten(errors: ValidationError[], path: string): string[] {
  const out: string[] = [];
  for (const error of errors) {
    const at = `${path}.${error.property}`;
    for (const text of Object.values(error.constraints ?? {})) {
      out.push(text.startsWith(error.property) ? `${path}.${text}` : `${at}: ${text}`);
    }
    if (error.children?.length) out.push(...flatten(error.children, at));
  }
  return out;
}
