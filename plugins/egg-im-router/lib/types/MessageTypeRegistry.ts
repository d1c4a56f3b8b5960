import 'reflect-metadata';
import assert from 'node:assert';
import { getMetadataStorage, validate as classValidate, type ValidationError, type ValidatorOptions } from 'class-validator';
import { plainToInstance } from 'class-transformer';
import { ImError, type JsonObject } from 'egg-im-protocol';
import { validateText } from './TextContent';
import { TYPE_NAME } from '../pipeline/validateSend';

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

/** Problems reported for one message, each at most `MAX_PROBLEM_LENGTH` characters: a reply never grows with the input. */
const MAX_PROBLEMS = 10;
const MAX_PROBLEM_LENGTH = 200;

/**
 * Stated explicitly so that validation never transforms: no whitelist stripping, unknown nested values
 * refused, missing properties checked. `content` is stored and delivered exactly as sent.
 */
export const DEFAULT_VALIDATOR_OPTIONS: ValidatorOptions = Object.freeze({
  whitelist: false,
  forbidNonWhitelisted: false,
  forbidUnknownValues: true,
  skipMissingProperties: false,
  stopAtFirstError: true,
  validationError: { target: false, value: false },
});

/** The custom message types, like egg-view's ViewManager: `register(name, definition)`. */
export class MessageTypeRegistry extends Map<string, Readonly<MessageTypeDefinition>> {
  constructor() {
    super();
    this.register('text', { validate: validateText, description: 'plain text: { text } (other keys are kept)' });
  }

  register(name: string, definition: MessageTypeDefinition): this {
    assert(typeof name === 'string' && TYPE_NAME.test(name),
      `[egg-im-router] message type name must match ${TYPE_NAME}, got ${JSON.stringify(name)}`);
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
    await this.checkNow(type, content);
  }

  /**
   * `check` without a promise where it needs none: a type checked by a synchronous `validate` alone (`text`,
   * every chat message) is checked at once (returns, or throws); a `schema`, or a `validate` that answers with
   * a promise, gives the pending check. The send path calls this: no promise per message for a text.
   */
  checkNow(type: string, content: JsonObject): void | Promise<void> {
    const definition = this.get(type);
    if (!definition) throw new ImError('UNKNOWN_MESSAGE_TYPE', `message type "${type}" is not registered`, { type });
    if (definition.schema) return this.checkSchema(type, definition, content);
    const problems = definition.validate!(content);
    if (!Array.isArray(problems)) return Promise.resolve(problems).then(found => throwIfProblems(type, found));
    throwIfProblems(type, problems);
  }

  private async checkSchema(type: string, definition: MessageTypeDefinition, content: JsonObject): Promise<void> {
    const instance = plainToInstance(definition.schema!, content, { enableImplicitConversion: false });
    // class-validator validates every item of an array even when the array is already too long.
    const oversized = oversizedArray(instance, 'content');
    if (oversized) throwIfProblems(type, [ oversized ]);
    throwIfProblems(type, flatten(await classValidate(instance as object, { ...DEFAULT_VALIDATOR_OPTIONS, ...definition.validatorOptions }), 'content'));
    if (definition.validate) throwIfProblems(type, await definition.validate(content));
  }
}

function throwIfProblems(type: string, problems: string[]): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, MAX_PROBLEMS).map(clip);
  throw new ImError('VALIDATION_FAILED', shown[0], { type, problems: shown });
}

function clip(text: string): string {
  return text.length > MAX_PROBLEM_LENGTH ? `${text.slice(0, MAX_PROBLEM_LENGTH - 1)}…` : text;
}

/**
 * The first array longer than its `@ArrayMaxSize`, in the object or the nested objects class-transformer
 * built (their classes carry their own constraints). Cheap: it reads only the constrained properties.
 */
function oversizedArray(instance: unknown, path: string): string | undefined {
  if (instance === null || typeof instance !== 'object') return undefined;
  const metadatas = getMetadataStorage().getTargetValidationMetadatas(instance.constructor, '', true, false);
  for (const metadata of metadatas) {
    const value = (instance as Record<string, unknown>)[metadata.propertyName];
    if (!Array.isArray(value)) continue;
    const max = metadata.name === 'arrayMaxSize' ? Number(metadata.constraints?.[0]) : NaN;
    if (value.length > max) return `${path}.${metadata.propertyName} must contain no more than ${max} elements`;
  }
  for (const metadata of metadatas) {
    if (metadata.type !== 'nestedValidation') continue;
    const value = (instance as Record<string, unknown>)[metadata.propertyName];
    const items = Array.isArray(value) ? value : [ value ];
    for (let i = 0; i < items.length; i++) {
      const found = oversizedArray(items[i], Array.isArray(value) ? `${path}.${metadata.propertyName}[${i}]` : `${path}.${metadata.propertyName}`);
      if (found) return found;
    }
  }
  return undefined;
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
