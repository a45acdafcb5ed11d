/** Turns schema-validation failures into the messages Cachet (Laravel) clients are used to reading. */

interface AjvLikeError {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

function attribute(path: string): string {
  return path.replace(/^\//, '').replace(/\//g, '.').replace(/_/g, ' ');
}

/** One Laravel-style sentence for a validation error. */
function sentence(error: AjvLikeError): string {
  const params = error.params;
  if (error.keyword === 'required') return `The ${attribute(String(params.missingProperty))} field is required.`;
  const field = attribute(error.instancePath) || 'input';
  switch (error.keyword) {
    case 'type': {
      const type = String(params.type);
      if (type === 'integer') return `The ${field} must be an integer.`;
      if (type === 'number') return `The ${field} must be a number.`;
      if (type === 'boolean') return `The ${field} field must be true or false.`;
      if (type === 'object') return `The ${field} must be an object.`;
      if (type === 'array') return `The ${field} must be an array.`;
      return `The ${field} must be a string.`;
    }
    case 'minimum':
      return `The ${field} must be at least ${String(params.limit)}.`;
    case 'maximum':
      return `The ${field} may not be greater than ${String(params.limit)}.`;
    case 'minLength':
      return Number(params.limit) === 1 ? `The ${field} field is required.` : `The ${field} must be at least ${String(params.limit)} characters.`;
    case 'maxLength':
      return `The ${field} may not be greater than ${String(params.limit)} characters.`;
    case 'maxItems':
      return `The ${field} may not have more than ${String(params.limit)} items.`;
    case 'pattern':
      return `The ${field} format is invalid.`;
    case 'format':
      return params.format === 'email' ? `The ${field} must be a valid email address.` : `The ${field} format is invalid.`;
    case 'enum':
    case 'anyOf':
    case 'const':
      return `The selected ${field} is invalid.`;
    case 'multipleOf':
      return `The ${field} must be a multiple of ${String(params.multipleOf)}.`;
    default:
      return `The ${field} ${error.message ?? 'is invalid'}.`;
  }
}

/** Messages for every error, deduplicated, in order (`anyOf` branches collapse into one). */
export function validationMessages(errors: readonly AjvLikeError[]): string[] {
  const anyOfPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const relevant = errors.filter((e) => e.keyword === 'anyOf' || !anyOfPaths.has(e.instancePath));
  return [...new Set(relevant.map(sentence))];
}
