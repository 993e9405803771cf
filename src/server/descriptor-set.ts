/**
 * The descriptors reflection serves: `api/reflection.binpb`, which
 * `npm run generate` builds with `buf build --as-file-descriptor-set` from
 * proto/ and third_party/. Unlike the copies embedded in the generated code,
 * it keeps the source info, so `grpcurl describe` and `buf curl` show our
 * proto comments, and it holds every file a client needs to decode our
 * errors (google/rpc/error_details.proto, google/rpc/status.proto, each
 * service's error_details.proto), which no service imports.
 * A test checks the committed file equals a fresh build.
 */
import fs from 'node:fs';
import path from 'node:path';
import { createFileRegistry, fromBinary, type DescFile } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';

export const DESCRIPTOR_SET_PATH = path.join('api', 'reflection.binpb');

/** The package root holding api/reflection.binpb: found from src/server (tests) and dist/src/server alike. */
function descriptorSetFile(): string | undefined {
  for (let directory = import.meta.dirname, depth = 0; depth < 5; directory = path.dirname(directory), depth++) {
    const candidate = path.join(directory, DESCRIPTOR_SET_PATH);
    if (fs.existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** Every file of the descriptor set, or undefined when the file is missing (reflection then serves the generated copies). */
export function loadDescriptorSet(): DescFile[] | undefined {
  const file = descriptorSetFile();
  if (file === undefined) return undefined;
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, fs.readFileSync(file)));
  return [...registry.files];
}
