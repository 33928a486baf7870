// The part of madge's API (8.0.0, untyped) that tools/check-layers.ts uses.
declare module "madge" {
  interface MadgeResult {
    /** File → the files it imports, paths relative to the base directory. */
    obj(): Record<string, string[]>;
    /** Every import cycle madge finds, each as a list of files. */
    circular(): string[][];
  }
  interface MadgeConfig {
    fileExtensions?: string[];
    tsConfig?: string;
    detectiveOptions?: Record<string, Record<string, unknown>>;
  }
  export default function madge(path: string | string[], config?: MadgeConfig): Promise<MadgeResult>;
}
