export { startDemoDatabase, type DemoDatabase, type DemoDatabaseOptions } from './start.ts';
