// node -r ./loopback.cjs: a server that listens on a bare port (as the suite's
// test server does, server.listen(port)) listens on 127.0.0.1 only.
'use strict'
const net = require('net')
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  const port = args[0]
  const bare = (typeof port === 'number' || (typeof port === 'string' && /^\d+$/.test(port))) &&
    typeof args[1] !== 'string'
  return bare ? listen.call(this, Number(port), '127.0.0.1', ...args.slice(1)) : listen.apply(this, args)
}
