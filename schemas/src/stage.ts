/** What every running stage (collectors, engine, sink, gateway, simulated venues) exposes to the CLI and health checks. */
export interface StageHealth {
  /** Process is alive and the stage is running. */
  alive: boolean;
  /** Everything this stage depends on is reachable and its inputs are fresh. */
  ready: boolean;
  /** Human-readable reasons when not ready. */
  details: Record<string, string>;
}

export interface Stage {
  readonly name: string;
  health(): StageHealth;
  close(): Promise<void>;
}
