#!/usr/bin/env node
// The installed `gatehouse` command: load TypeScript through tsx, then the real entry.
import { register } from 'tsx/esm/api';

register();
await import('./gatehouse.ts');
