/**
 * Ids known to exist, remembered so that a hot path need not ask the database again. Bounded: past `max`
 * the oldest is forgotten (and asked about again when it comes back).
 */
export class KnownIds {
  private readonly ids = new Set<string>();

  constructor(private readonly max: number) {}

  has(id: string): boolean {
    return this.ids.has(id);
  }

  add(id: string): void {
    if (this.ids.has(id)) return;
    if (this.ids.size >= this.max) this.ids.delete(this.ids.values().next().value!);
    this.ids.add(id);
  }
}
