/**
 * Reflection and health over connect's in-memory router transport: the real
 * handlers, encoders and streams, with no sockets. (The class tier tests
 * HealthState alone; the real-server tier runs grpcurl-style clients over
 * HTTP/2.)
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  create,
  createFileRegistry,
  fromBinary,
  type DescFile,
  type DescService,
  type MessageInitShape,
} from '@bufbuild/protobuf';
import {
  FieldDescriptorProto_Label,
  FieldDescriptorProto_Type,
  FileDescriptorProtoSchema,
  file_google_protobuf_any,
  file_google_protobuf_duration,
  file_google_protobuf_field_mask,
  file_google_protobuf_timestamp,
} from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createClient, createRouterTransport, type Transport } from '@connectrpc/connect';
import { Health } from '../gen/grpc/health/v1/health_pb.js';
import {
  ServerReflection as ServerReflectionV1,
  type ServerReflectionRequestSchema as RequestSchemaV1,
  type ServerReflectionResponse as ResponseV1,
} from '../gen/grpc/reflection/v1/reflection_pb.js';
import { ServerReflection as ServerReflectionV1Alpha } from '../gen/grpc/reflection/v1alpha/reflection_pb.js';
import { HealthState, registerHealth, ServingStatus } from '../src/server/health.js';
import { reflectedServiceNames, registerReflection } from '../src/server/reflection.js';

/**
 * A service whose file imports well-known types, built the way generated code
 * builds one, to prove imports travel with the file.
 */
function catalogService(): DescService {
  const wellKnown: Record<string, DescFile> = {
    'google/protobuf/timestamp.proto': file_google_protobuf_timestamp,
    'google/protobuf/field_mask.proto': file_google_protobuf_field_mask,
    'google/protobuf/any.proto': file_google_protobuf_any,
    'google/protobuf/duration.proto': file_google_protobuf_duration,
  };
  const optional = FieldDescriptorProto_Label.OPTIONAL;
  const message = FieldDescriptorProto_Type.MESSAGE;
  const proto = create(FileDescriptorProtoSchema, {
    name: 'stockroom/test/v1/catalog.proto',
    package: 'stockroom.test.v1',
    syntax: 'proto3',
    dependency: Object.keys(wellKnown),
    messageType: [
      {
        name: 'Item',
        field: [
          { name: 'updated_at', jsonName: 'updatedAt', number: 1, label: optional, type: message, typeName: '.google.protobuf.Timestamp' },
          { name: 'details', jsonName: 'details', number: 2, label: optional, type: message, typeName: '.google.protobuf.Any' },
          { name: 'lead_time', jsonName: 'leadTime', number: 3, label: optional, type: message, typeName: '.google.protobuf.Duration' },
        ],
        nestedType: [{ name: 'Bin' }],
        enumType: [{ name: 'Kind', value: [{ name: 'KIND_UNSPECIFIED', number: 0 }] }],
      },
      {
        name: 'UpdateItemRequest',
        field: [
          { name: 'item', jsonName: 'item', number: 1, label: optional, type: message, typeName: '.stockroom.test.v1.Item' },
          { name: 'update_mask', jsonName: 'updateMask', number: 2, label: optional, type: message, typeName: '.google.protobuf.FieldMask' },
        ],
      },
    ],
    service: [
      {
        name: 'CatalogService',
        method: [{ name: 'UpdateItem', inputType: '.stockroom.test.v1.UpdateItemRequest', outputType: '.stockroom.test.v1.Item' }],
      },
    ],
  });
  const registry = createFileRegistry(proto, (name) => wellKnown[name]);
  const service = registry.getService('stockroom.test.v1.CatalogService');
  if (service === undefined) throw new Error('catalog service missing from its registry');
  return service;
}

const Catalog = catalogService();

type RequestInit = MessageInitShape<typeof RequestSchemaV1>;

async function* streamOf<T>(items: readonly T[]): AsyncGenerator<T> {
  yield* items;
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of stream) items.push(item);
  return items;
}

function fileNames(response: ResponseV1): string[] {
  if (response.messageResponse.case !== 'fileDescriptorResponse') {
    throw new Error(`expected file descriptors, got ${response.messageResponse.case}`);
  }
  return response.messageResponse.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

describe('server reflection over the in-memory router', () => {
  const transport = createRouterTransport((router) => {
    registerReflection(router, { services: [Catalog, Health] });
  });
  const reflectV1 = (requests: readonly RequestInit[]): Promise<ResponseV1[]> =>
    collect(createClient(ServerReflectionV1, transport).serverReflectionInfo(streamOf(requests)));

  const expectedServices = [
    'stockroom.test.v1.CatalogService',
    'grpc.health.v1.Health',
    'grpc.reflection.v1.ServerReflection',
    'grpc.reflection.v1alpha.ServerReflection',
  ];

  it('lists services over v1, echoing host and request', async () => {
    const [response] = await reflectV1([{ host: 'stock.example', messageRequest: { case: 'listServices', value: '*' } }]);
    expect(response.validHost).toBe('stock.example');
    expect(response.originalRequest?.messageRequest).toEqual({ case: 'listServices', value: '*' });
    if (response.messageResponse.case !== 'listServicesResponse') throw new Error(response.messageResponse.case);
    expect(response.messageResponse.value.service.map((service) => service.name)).toEqual(expectedServices);
    expect(reflectedServiceNames({ services: [Catalog, Health] })).toEqual(expectedServices);
  });

  it('lists services over v1alpha', async () => {
    const client = createClient(ServerReflectionV1Alpha, transport);
    const [response] = await collect(
      client.serverReflectionInfo(streamOf([{ host: 'h', messageRequest: { case: 'listServices' as const, value: '' } }])),
    );
    expect(response.validHost).toBe('h');
    if (response.messageResponse.case !== 'listServicesResponse') throw new Error(response.messageResponse.case);
    expect(response.messageResponse.value.service.map((service) => service.name)).toEqual(expectedServices);
  });

  it('finds the file containing grpc.health.v1.Health, and its methods and nested types', async () => {
    const responses = await reflectV1(
      ['grpc.health.v1.Health', 'grpc.health.v1.Health.Watch', 'grpc.health.v1.HealthCheckResponse.ServingStatus'].map(
        (symbol): RequestInit => ({ messageRequest: { case: 'fileContainingSymbol', value: symbol } }),
      ),
    );
    expect(responses).toHaveLength(3);
    for (const response of responses) {
      if (response.messageResponse.case !== 'fileDescriptorResponse') throw new Error(response.messageResponse.case);
      const file = fromBinary(FileDescriptorProtoSchema, response.messageResponse.value.fileDescriptorProto[0]);
      expect(file.name).toBe('grpc/health/v1/health.proto');
      expect(file.package).toBe('grpc.health.v1');
      expect(file.service.map((service) => service.name)).toEqual(['Health']);
    }
  });

  it('sends a file with all the well-known types it imports', async () => {
    const responses = await reflectV1([
      { messageRequest: { case: 'fileContainingSymbol', value: 'stockroom.test.v1.CatalogService.UpdateItem' } },
      { messageRequest: { case: 'fileContainingSymbol', value: 'stockroom.test.v1.Item.Bin' } },
      { messageRequest: { case: 'fileContainingSymbol', value: 'stockroom.test.v1.Item.Kind' } },
      { messageRequest: { case: 'fileByFilename', value: 'stockroom/test/v1/catalog.proto' } },
      { messageRequest: { case: 'fileContainingSymbol', value: 'google.protobuf.Timestamp' } },
      { messageRequest: { case: 'fileByFilename', value: 'google/protobuf/field_mask.proto' } },
    ]);
    const catalogWithImports = [
      'stockroom/test/v1/catalog.proto',
      'google/protobuf/timestamp.proto',
      'google/protobuf/field_mask.proto',
      'google/protobuf/any.proto',
      'google/protobuf/duration.proto',
    ];
    for (const response of responses.slice(0, 4)) expect(fileNames(response)).toEqual(catalogWithImports);
    expect(fileNames(responses[4])).toEqual(['google/protobuf/timestamp.proto']);
    expect(fileNames(responses[5])).toEqual(['google/protobuf/field_mask.proto']);
  });

  it('answers an unknown symbol with error_response NOT_FOUND and keeps the stream open', async () => {
    const responses = await reflectV1([
      { messageRequest: { case: 'fileContainingSymbol', value: 'stockroom.nothing.v1.Nowhere' } },
      { messageRequest: { case: 'fileByFilename', value: 'no/such/file.proto' } },
      { messageRequest: { case: 'fileContainingExtension', value: { containingType: 'grpc.health.v1.HealthCheckRequest', extensionNumber: 100 } } },
      { messageRequest: { case: 'listServices', value: '' } },
    ]);
    expect(responses.map((response) => response.messageResponse.case)).toEqual([
      'errorResponse',
      'errorResponse',
      'errorResponse',
      'listServicesResponse',
    ]);
    for (const response of responses.slice(0, 3)) {
      if (response.messageResponse.case !== 'errorResponse') throw new Error(response.messageResponse.case);
      expect(response.messageResponse.value.errorCode).toBe(5);
    }
    expect(responses[0].originalRequest?.messageRequest.value).toBe('stockroom.nothing.v1.Nowhere');
  });

  it('answers the same unknown symbol over v1alpha with error code 5', async () => {
    const client = createClient(ServerReflectionV1Alpha, transport);
    const [response] = await collect(
      client.serverReflectionInfo(streamOf([{ messageRequest: { case: 'fileContainingSymbol' as const, value: 'no.Such' } }])),
    );
    if (response.messageResponse.case !== 'errorResponse') throw new Error(response.messageResponse.case);
    expect(response.messageResponse.value.errorCode).toBe(5);
  });

  it('lists no extension numbers for a message without extensions', async () => {
    const [response] = await reflectV1([{ messageRequest: { case: 'allExtensionNumbersOfType', value: 'stockroom.test.v1.Item' } }]);
    expect(response.messageResponse).toMatchObject({
      case: 'allExtensionNumbersResponse',
      value: { baseTypeName: 'stockroom.test.v1.Item', extensionNumber: [] },
    });
  });
});

describe('health over the in-memory router', () => {
  const states: HealthState[] = [];
  afterEach(() => {
    for (const state of states.splice(0)) state.close();
  });

  function healthState(probe: () => Promise<boolean>, options: { probe_result_max_age_ms?: number } = {}): HealthState {
    const state = new HealthState({ probe, probe_interval_ms: 60_000, ...options });
    states.push(state);
    return state;
  }

  function healthTransport(state: HealthState): Transport {
    return createRouterTransport((router) => registerHealth(router, state));
  }

  it('reports SERVING while the probe answers true', async () => {
    const client = createClient(Health, healthTransport(healthState(async () => true)));
    expect((await client.check({ service: '' })).status).toBe(ServingStatus.SERVING);
  });

  it('reports NOT_SERVING while the probe answers false, throws, or hangs', async () => {
    const answers = [async () => false, async () => Promise.reject(new Error('connection refused')), () => new Promise<boolean>(() => {})];
    for (const probe of answers) {
      const state = new HealthState({ probe, probe_interval_ms: 60_000, probe_timeout_ms: 50 });
      states.push(state);
      const client = createClient(Health, healthTransport(state));
      expect((await client.check({ service: '' })).status).toBe(ServingStatus.NOT_SERVING);
    }
  });

  it('reuses a probe result so polling cannot hammer the database', async () => {
    let probes = 0;
    const client = createClient(
      Health,
      healthTransport(
        healthState(async () => {
          probes += 1;
          return true;
        }),
      ),
    );
    const answers = await Promise.all(Array.from({ length: 20 }, () => client.check({ service: '' })));
    expect(answers.every((answer) => answer.status === ServingStatus.SERVING)).toBe(true);
    expect(probes).toBe(1);
  });

  it('follows the probe once the cached result expires', async () => {
    let healthy = true;
    const client = createClient(Health, healthTransport(healthState(async () => healthy, { probe_result_max_age_ms: 0 })));
    expect((await client.check({ service: '' })).status).toBe(ServingStatus.SERVING);
    healthy = false;
    await sleep(5);
    expect((await client.check({ service: '' })).status).toBe(ServingStatus.NOT_SERVING);
  });

  it('fails Check of an unknown service with NOT_FOUND', async () => {
    const state = healthState(async () => true);
    state.setServing('stockroom.inventory.v1.InventoryService', true);
    const client = createClient(Health, healthTransport(state));
    expect((await client.check({ service: 'stockroom.inventory.v1.InventoryService' })).status).toBe(ServingStatus.SERVING);
    const failure = await client.check({ service: 'no.such.Service' }).then(
      () => undefined,
      (error: unknown) => ConnectError.from(error),
    );
    expect(failure?.code).toBe(Code.NotFound);
  });

  it('streams the current status and then each change', async () => {
    const state = healthState(async () => true);
    const service = 'stockroom.inventory.v1.InventoryService';
    const client = createClient(Health, healthTransport(state));
    const abort = new AbortController();
    const watch = client.watch({ service }, { signal: abort.signal })[Symbol.asyncIterator]();

    expect((await watch.next()).value?.status).toBe(ServingStatus.SERVICE_UNKNOWN);
    state.setServing(service, true);
    expect((await watch.next()).value?.status).toBe(ServingStatus.SERVING);
    state.setServing(service, false);
    expect((await watch.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    expect(state.openWatches).toBe(1);
    abort.abort();
    await expect(watch.next()).rejects.toMatchObject({ code: Code.Canceled });
    // The in-memory transport never resumes a handler parked at a yield, so
    // this proves the watch unsubscribes on the abort signal itself.
    expect(state.openWatches).toBe(0);
  });

  it('streams a change of the probe to a watch of the whole server', async () => {
    let healthy = true;
    const state = new HealthState({ probe: async () => healthy, probe_interval_ms: 10, probe_result_max_age_ms: 5 });
    states.push(state);
    const client = createClient(Health, healthTransport(state));
    const abort = new AbortController();
    const watch = client.watch({ service: '' }, { signal: abort.signal })[Symbol.asyncIterator]();
    expect((await watch.next()).value?.status).toBe(ServingStatus.SERVING);
    healthy = false;
    expect((await watch.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    healthy = true;
    expect((await watch.next()).value?.status).toBe(ServingStatus.SERVING);
    abort.abort();
    await watch.next().catch(() => undefined);
  });

  it('makes everything NOT_SERVING after shutdown, and ends watches', async () => {
    const state = healthState(async () => true);
    const service = 'stockroom.parts.v1.PartsService';
    state.setServing(service, true);
    const client = createClient(Health, healthTransport(state));
    const overallWatch = client.watch({ service: '' })[Symbol.asyncIterator]();
    expect((await overallWatch.next()).value?.status).toBe(ServingStatus.SERVING);

    state.shutdown();
    expect((await overallWatch.next()).value?.status).toBe(ServingStatus.NOT_SERVING);
    expect((await overallWatch.next()).done).toBe(true);

    state.setServing(service, true);
    state.setServing('', true);
    expect((await client.check({ service: '' })).status).toBe(ServingStatus.NOT_SERVING);
    expect((await client.check({ service })).status).toBe(ServingStatus.NOT_SERVING);
    expect((await collect(client.watch({ service }))).map((response) => response.status)).toEqual([ServingStatus.NOT_SERVING]);
    const list = await client.list({});
    expect(Object.values(list.statuses).map((response) => response.status)).toEqual([
      ServingStatus.NOT_SERVING,
      ServingStatus.NOT_SERVING,
    ]);
  });
});
