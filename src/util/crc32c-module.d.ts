// crc-32 ships types only for its CRC32 entry point; this declares its CRC32C one.
declare module 'crc-32/crc32c.js' {
  const CRC32C: {
    buf(data: Uint8Array | number[], seed?: number): number;
    str(data: string, seed?: number): number;
  };
  export default CRC32C;
}
