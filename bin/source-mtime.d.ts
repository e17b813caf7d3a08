export declare const SOURCE_DIRS: readonly string[];
export declare function newestSourceMtime(base: string): number;
export declare function distIsCurrent(base: string): boolean;
