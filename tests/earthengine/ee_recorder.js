// Runs a Code Editor script against a recording stand-in for `ee`, `Map` and `print`, and prints JSON:
// every call the script made (method path, target, arguments; a function argument is called once with
// placeholder variables and its body recorded, as the Earth Engine client does), the layers and prints,
// and the script's top-level variables that are graph nodes. Used by tests/earthengine/test_ee_scripts.py.
//   node ee_recorder.js SCRIPT [EXPR ...]   (each EXPR is evaluated in the script's context afterwards)
'use strict';
const fs = require('fs');
const vm = require('vm');

const nodes = [];          // {method, target, args} or {variable: true} or {root: 'ee'}
const known = new WeakMap(); // proxy -> {id} (a value) or {target, path} (a member, not yet called)

function value(id) {
  const proxy = new Proxy(function () {}, {
    get(_, prop) {
      if (typeof prop === 'symbol') return undefined;
      return member(id, [prop]);
    },
    apply() { throw new Error('a graph value is not callable: node ' + id); },
  });
  known.set(proxy, {id});
  return proxy;
}

function member(target, path) {
  const proxy = new Proxy(function () {}, {
    get(_, prop) {
      if (typeof prop === 'symbol') return undefined;
      return member(target, path.concat([prop]));
    },
    apply(_, self, args) {
      const id = nodes.length;
      nodes.push(null);  // reserve: arguments (function bodies) are recorded after the call
      nodes[id] = {method: path.join('.'), target, args: args.map(encode)};
      // getInfo blocks the Code Editor and answers a client value: recorded, answered with 0, so the script runs on
      return path[path.length - 1] === 'getInfo' ? 0 : value(id);
    },
  });
  known.set(proxy, {target, path});
  return proxy;
}

function encode(arg) {
  if (arg === null || arg === undefined) return null;
  const info = known.get(arg);
  if (info && info.id !== undefined) return {ref: info.id};
  if (info) return {member: info.path.join('.'), target: info.target};
  if (typeof arg === 'function') {
    const vars = [];
    for (let i = 0; i < arg.length; i++) { vars.push(nodes.length); nodes.push({variable: true}); }
    return {fn: vars, body: encode(arg.apply(null, vars.map(value)))};
  }
  if (Object.prototype.toString.call(arg) === '[object Date]') return {date: arg.toISOString()};  // any realm
  if (Array.isArray(arg)) return arg.map(encode);
  if (typeof arg === 'object') {
    const out = {};
    for (const key of Object.keys(arg)) out[key] = encode(arg[key]);
    return {object: out};
  }
  return arg;
}

nodes.push({root: 'ee'});
const layers = [], prints = [];
const context = {
  ee: value(0),
  print: (...args) => prints.push(args.map(encode)),
  Map: {
    addLayer: (image, vis, name) => layers.push({image: encode(image), vis: encode(vis), name}),
    centerObject: () => undefined,
  },
};
vm.createContext(context);
const script = fs.readFileSync(process.argv[2], 'utf-8');
vm.runInContext(script, context, {filename: process.argv[2]});
const results = process.argv.slice(3).map((expr) => encode(vm.runInContext(expr, context)));
const variables = {};
for (const key of Object.keys(context)) {
  const info = known.get(context[key]);
  if (info && info.id !== undefined && key !== 'ee') variables[key] = info.id;
}
process.stdout.write(JSON.stringify({nodes, layers, prints, variables, results}));
