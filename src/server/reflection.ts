/**
 * gRPC server reflection for connect-node.
 *
 * Connect has no reflection service of its own, yet grpcurl, buf curl,
 * Postman and grpcui all need one to describe our API without a copy of the
 * .proto files. This module serves both protocol versions, because tools
 * differ in which one they try: grpc.reflection.v1 (current) and
 * grpc.reflection.v1alpha (what older grpcurl and many GUI clients still
 * speak). The two are identical on the wire apart from their package name.
 *
 * Answers come from protobuf-es descriptor objects: the descriptor set built
 * by buf (descriptor-set.ts: with comments, and the error detail files), and
 * for anything not in it the generated code of each registered service,
 * which embeds its file descriptor (DescFile.proto) and links the files it
 * imports (DescFile.dependencies). Nothing here reads .proto files at run time.
 *
 * Protocol: https://github.com/grpc/grpc/blob/master/doc/server-reflection.md
 */
import {
  create,
  fromBinary,
  toBinary,
  type DescEnum,
  type DescExtension,
  type DescFile,
  type DescMessage,
  type DescService,
} from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import { Code, type ConnectRouter } from '@connectrpc/connect';
import {
  ErrorResponseSchema,
  ExtensionNumberResponseSchema,
  FileDescriptorResponseSchema,
  ListServiceResponseSchema,
  ServerReflection as ServerReflectionV1,
  ServerReflectionRequestSchema as RequestSchemaV1,
  ServerReflectionResponseSchema as ResponseSchemaV1,
  type ServerReflectionRequest as RequestV1,
  type ServerReflectionResponse as ResponseV1,
} from '../../gen/grpc/reflection/v1/reflection_pb.js';
import {
  ServerReflection as ServerReflectionV1Alpha,
  ServerReflectionRequestSchema as RequestSchemaV1Alpha,
  ServerReflectionResponseSchema as ResponseSchemaV1Alpha,
  type ServerReflectionRequest as RequestV1Alpha,
  type ServerReflectionResponse as ResponseV1Alpha,
} from '../../gen/grpc/reflection/v1alpha/reflection_pb.js';

export interface ReflectionOptions {
  /**
   * Every service the router serves (pass grpc.health.v1.Health here too when
   * it is registered). The two reflection services are always added.
   */
  readonly services: readonly DescService[];
  /**
   * Files served besides the services' own, preferred over the generated
   * code's copies of the same name (see descriptor-set.ts: they carry
   * comments, and include the error detail files no service imports).
   */
  readonly files?: readonly DescFile[];
}

/** Files that decode the google.rpc.Status of any error (AIP-193 details). */
const ERROR_DETAIL_FILES = ['google/rpc/status.proto', 'google/rpc/error_details.proto'];

/** The reflection services themselves, listed by list_services as gRPC servers do. */
export const REFLECTION_SERVICES: readonly DescService[] = [ServerReflectionV1, ServerReflectionV1Alpha];

/**
 * The fully qualified service names that list_services reports for these
 * options: the given services in order, then both reflection services,
 * without duplicates.
 */
export function reflectedServiceNames(options: ReflectionOptions): string[] {
  return [...new Set([...options.services, ...REFLECTION_SERVICES].map((service) => service.typeName))];
}

/**
 * Registers grpc.reflection.v1.ServerReflection and
 * grpc.reflection.v1alpha.ServerReflection on the router.
 */
export function registerReflection(router: ConnectRouter, options: ReflectionOptions): void {
  const index = new ReflectionIndex(options);
  router.service(ServerReflectionV1, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield index.answer(request);
      }
    },
  });
  // v1alpha messages share field numbers and types with v1, so converting via
  // the wire format lets one implementation answer both versions.
  router.service(ServerReflectionV1Alpha, {
    async *serverReflectionInfo(requests) {
      for await (const request of requests) {
        yield toV1Alpha(index.answer(toV1(request)));
      }
    },
  });
}

function toV1(request: RequestV1Alpha): RequestV1 {
  return fromBinary(RequestSchemaV1, toBinary(RequestSchemaV1Alpha, request));
}

function toV1Alpha(response: ResponseV1): ResponseV1Alpha {
  return fromBinary(ResponseSchemaV1Alpha, toBinary(ResponseSchemaV1, response));
}

/**
 * Lookup tables built once at registration: every file reachable from the
 * registered services (their imports included, so well-known types such as
 * google/protobuf/timestamp.proto resolve), by file name, by symbol, and by
 * extension.
 */
class ReflectionIndex {
  private readonly service_names: string[];
  private readonly files_by_name = new Map<string, DescFile>();
  private readonly files_by_symbol = new Map<string, DescFile>();
  /** Key: `${extendee type name}#${field number}`. */
  private readonly files_by_extension = new Map<string, DescFile>();
  private readonly extension_numbers_by_type = new Map<string, number[]>();
  /** Serialized FileDescriptorProtos of a file and all it imports, computed on first use. */
  private readonly serialized_closures = new Map<string, Uint8Array[]>();

  constructor(options: ReflectionOptions) {
    this.service_names = reflectedServiceNames(options);
    // First file of a name wins, so the descriptor set's copies go first.
    for (const file of options.files ?? []) this.addFile(file);
    for (const service of [...options.services, ...REFLECTION_SERVICES]) {
      this.addFile(service.file);
    }
  }

  answer(request: RequestV1): ResponseV1 {
    const response = create(ResponseSchemaV1, {
      validHost: request.host,
      originalRequest: request,
    });
    const message = request.messageRequest;
    switch (message.case) {
      case 'listServices':
        response.messageResponse = {
          case: 'listServicesResponse',
          value: create(ListServiceResponseSchema, { service: this.service_names.map((name) => ({ name })) }),
        };
        return response;
      case 'fileByFilename':
        return this.withFile(response, this.files_by_name.get(message.value), `file not found: ${message.value}`);
      case 'fileContainingSymbol':
        return this.withFile(
          response,
          this.files_by_symbol.get(stripDot(message.value)),
          `symbol not found: ${message.value}`,
        );
      case 'fileContainingExtension': {
        const { containingType, extensionNumber } = message.value;
        return this.withFile(
          response,
          this.files_by_extension.get(`${stripDot(containingType)}#${extensionNumber}`),
          `extension not found: ${containingType} field ${extensionNumber}`,
        );
      }
      case 'allExtensionNumbersOfType': {
        const typeName = stripDot(message.value);
        const numbers = this.extension_numbers_by_type.get(typeName);
        if (numbers === undefined) {
          return withError(response, Code.NotFound, `message type not found: ${message.value}`);
        }
        response.messageResponse = {
          case: 'allExtensionNumbersResponse',
          value: create(ExtensionNumberResponseSchema, { baseTypeName: typeName, extensionNumber: [...numbers] }),
        };
        return response;
      }
      default:
        return withError(response, Code.InvalidArgument, 'request sets no message_request');
    }
  }

  /**
   * Answers with the file and every file it imports, transitively: a client
   * cannot build descriptors for a file whose imports it lacks, and the
   * protocol leaves it to the server to send them.
   */
  private withFile(response: ResponseV1, file: DescFile | undefined, notFound: string): ResponseV1 {
    if (file === undefined) return withError(response, Code.NotFound, notFound);
    response.messageResponse = {
      case: 'fileDescriptorResponse',
      value: create(FileDescriptorResponseSchema, { fileDescriptorProto: this.serializedClosure(file) }),
    };
    return response;
  }

  /**
   * The file first, then its imports depth first, each once; for a file that
   * defines services, then also the files that decode its errors (see
   * errorDetailFiles). grpcurl and buf curl resolve the Any types in an
   * error's details only from files they already hold, never with a new
   * reflection request, so these must travel with the service.
   */
  private serializedClosure(file: DescFile): Uint8Array[] {
    let closure = this.serialized_closures.get(file.proto.name);
    if (closure === undefined) {
      const seen = new Set<string>();
      const order: DescFile[] = [];
      const visit = (current: DescFile): void => {
        if (seen.has(current.proto.name)) return;
        seen.add(current.proto.name);
        order.push(current);
        current.dependencies.forEach(visit);
      };
      visit(file);
      if (file.services.length > 0) this.errorDetailFiles(file).forEach(visit);
      closure = order.map((each) => toBinary(FileDescriptorProtoSchema, each.proto));
      this.serialized_closures.set(file.proto.name, closure);
    }
    return closure;
  }

  /** google/rpc/status.proto, google/rpc/error_details.proto and the package's own error_details.proto, those known. */
  private errorDetailFiles(file: DescFile): DescFile[] {
    const package_directory = file.proto.name.slice(0, file.proto.name.lastIndexOf('/') + 1);
    return [...ERROR_DETAIL_FILES, `${package_directory}error_details.proto`]
      .map((name) => this.files_by_name.get(name))
      .filter((each): each is DescFile => each !== undefined);
  }

  private addFile(file: DescFile): void {
    // DescFile.name drops the ".proto" suffix; reflection speaks in full file names.
    const name = file.proto.name;
    if (this.files_by_name.has(name)) return;
    this.files_by_name.set(name, file);
    for (const service of file.services) {
      this.addSymbol(service.typeName, file);
      for (const method of service.methods) this.addSymbol(`${service.typeName}.${method.name}`, file);
    }
    for (const message of file.messages) this.addMessage(message, file);
    for (const enumeration of file.enums) this.addEnum(enumeration, file);
    for (const extension of file.extensions) this.addExtension(extension, file);
    file.dependencies.forEach((dependency) => this.addFile(dependency));
  }

  private addMessage(message: DescMessage, file: DescFile): void {
    this.addSymbol(message.typeName, file);
    if (!this.extension_numbers_by_type.has(message.typeName)) {
      this.extension_numbers_by_type.set(message.typeName, []);
    }
    for (const field of message.fields) this.addSymbol(`${message.typeName}.${field.name}`, file);
    for (const oneof of message.oneofs) this.addSymbol(`${message.typeName}.${oneof.name}`, file);
    for (const nested of message.nestedMessages) this.addMessage(nested, file);
    for (const enumeration of message.nestedEnums) this.addEnum(enumeration, file);
    for (const extension of message.nestedExtensions) this.addExtension(extension, file);
  }

  private addEnum(enumeration: DescEnum, file: DescFile): void {
    this.addSymbol(enumeration.typeName, file);
    // Enum values are scoped like C++ enumerators: siblings of their enum.
    const scope = enumeration.typeName.slice(0, enumeration.typeName.length - enumeration.name.length);
    for (const value of enumeration.values) this.addSymbol(`${scope}${value.name}`, file);
  }

  private addExtension(extension: DescExtension, file: DescFile): void {
    this.addSymbol(extension.typeName, file);
    const key = `${extension.extendee.typeName}#${extension.number}`;
    if (!this.files_by_extension.has(key)) this.files_by_extension.set(key, file);
    const numbers = this.extension_numbers_by_type.get(extension.extendee.typeName) ?? [];
    if (!numbers.includes(extension.number)) numbers.push(extension.number);
    this.extension_numbers_by_type.set(extension.extendee.typeName, numbers);
  }

  private addSymbol(name: string, file: DescFile): void {
    // First definition wins; a later duplicate would be a broken build anyway.
    if (!this.files_by_symbol.has(name)) this.files_by_symbol.set(name, file);
  }
}

function stripDot(typeName: string): string {
  return typeName.startsWith('.') ? typeName.slice(1) : typeName;
}

/** Errors travel inside the stream as error_response, so the stream stays open for further requests. */
function withError(response: ResponseV1, code: Code, message: string): ResponseV1 {
  response.messageResponse = {
    case: 'errorResponse',
    value: create(ErrorResponseSchema, { errorCode: code, errorMessage: message }),
  };
  return response;
}
