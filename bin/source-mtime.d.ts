export declare const SOURCE_DIRS: readonly string[];
export declare function newestSourceMtime(base: string): number;
