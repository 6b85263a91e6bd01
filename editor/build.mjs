// Placeholder until the editor lands: nothing to bundle yet.
