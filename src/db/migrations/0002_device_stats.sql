-- v2: what device a job ran on (GPU indices, or the CPU fallback and why) and its sampled telemetry.
ALTER TABLE jobs ADD COLUMN device TEXT;
ALTER TABLE jobs ADD COLUMN stats TEXT;
