/// The node API's OpenAPI 3.0 document, served at `GET /openapi.json`. Kept beside the routes
/// (Server.swift); `.ci/api-check` validates it and fuzzes a live node against it.
enum OpenAPIDocument {
    static let json = #"""
{
 "openapi": "3.0.3",
 "info": {
  "title": "Tally node API",
  "version": "1.0.0",
  "description": "Every Tally node serves this API. It returns counts, never records: no endpoint returns a patient-level row. Errors are JSON objects with a stable `code` and a human `error` message. Endpoints marked with the `signed` security scheme need a request signed with an active identity's Ed25519 key: headers Tally-Identity (ORG or ORG/USER), Tally-Timestamp (ms since the epoch, within 5 minutes of the node's clock) and Tally-Signature (base64 Ed25519 over the domain 'tally/request/v1\\0' + METHOD\\nTARGET\\nTIMESTAMP\\nhex(SHA-256(body))); each signature is accepted once. Signed transactions (POST /v1/transactions) and coordinators' requests (POST /v1/evaluate) carry their own signatures."
 },
 "paths": {
  "/health": {
   "get": {
    "summary": "Liveness",
    "operationId": "health",
    "responses": {
     "200": {
      "description": "the node runs",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Health"
        }
       }
      }
     },
     "503": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/ready": {
   "get": {
    "summary": "Readiness: a known leader, entries applied, views caught up",
    "operationId": "ready",
    "responses": {
     "200": {
      "description": "ready",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Ready"
        }
       }
      }
     },
     "503": {
      "description": "not ready, with reasons",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Ready"
        }
       }
      }
     }
    }
   }
  },
  "/metrics": {
   "get": {
    "summary": "Prometheus metrics (text exposition format)",
    "operationId": "metrics",
    "responses": {
     "200": {
      "description": "metrics",
      "content": {
       "text/plain": {
        "schema": {
         "type": "string"
        }
       }
      }
     }
    }
   }
  },
  "/openapi.json": {
   "get": {
    "summary": "This document",
    "operationId": "openapi",
    "responses": {
     "200": {
      "description": "OpenAPI document",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     }
    }
   }
  },
  "/v1/status": {
   "get": {
    "summary": "Role, term, leader, commit and applied index, ledger height and head",
    "operationId": "status",
    "responses": {
     "200": {
      "description": "status",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Status"
        }
       }
      }
     }
    }
   }
  },
  "/v1/transactions": {
   "post": {
    "summary": "Submit one signed transaction (wire bytes) and wait for its block",
    "operationId": "submitTransaction",
    "requestBody": {
     "required": true,
     "content": {
      "application/octet-stream": {
       "schema": {
        "type": "string",
        "format": "binary",
        "maxLength": 1048576
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "committed",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Receipt"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "421": {
      "$ref": "#/components/responses/Error"
     },
     "422": {
      "$ref": "#/components/responses/Error"
     },
     "503": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/v1/transactions/batch": {
   "post": {
    "summary": "Submit up to 5,000 signed transactions (each a 4-byte big-endian length and its bytes)",
    "operationId": "submitBatch",
    "requestBody": {
     "required": true,
     "content": {
      "application/octet-stream": {
       "schema": {
        "type": "string",
        "format": "binary"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "one result per transaction, in order",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "results"
         ],
         "properties": {
          "results": {
           "type": "array",
           "items": {
            "type": "object"
           }
          }
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/v1/transactions/{hash}": {
   "get": {
    "summary": "The receipt of a committed transaction",
    "operationId": "getTransaction",
    "parameters": [
     {
      "name": "hash",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string",
       "pattern": "^[0-9a-f]{64}$"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "receipt",
      "content": {
       "application/json": {
        "schema": {
         "$ref": "#/components/schemas/Receipt"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/v1/blocks/{height}": {
   "get": {
    "summary": "A block header and checkpoint (never transaction payloads)",
    "operationId": "getBlock",
    "parameters": [
     {
      "name": "height",
      "in": "path",
      "required": true,
      "schema": {
       "type": "integer",
       "minimum": 0
      }
     }
    ],
    "responses": {
     "200": {
      "description": "block",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "hash",
          "header",
          "checkpoint",
          "transactions"
         ]
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/v1/queries": {
   "post": {
    "summary": "Run a federated query as this node's organisation (coordinator)",
    "operationId": "runQuery",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/QueryRequest"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "merged result with provenance",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "403": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "422": {
      "$ref": "#/components/responses/Error"
     },
     "503": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Unauthenticated"
     }
    },
    "security": [
     {
      "signed": []
     }
    ]
   }
  },
  "/v1/evaluate": {
   "post": {
    "summary": "A coordinator's signed request to this member",
    "operationId": "evaluate",
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "type": "object"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "the member's signed aggregate",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "403": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/v1/patients/{pid}/consents": {
   "get": {
    "summary": "A patient's consents with their status now",
    "operationId": "patientConsents",
    "parameters": [
     {
      "name": "pid",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "consents",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "type": "object"
         }
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Unauthenticated"
     },
     "403": {
      "$ref": "#/components/responses/Error"
     }
    },
    "security": [
     {
      "signed": []
     }
    ]
   }
  },
  "/v1/patients/{pid}/access-report": {
   "get": {
    "summary": "Everything that touched a patient's data, each entry with its inclusion proof",
    "operationId": "accessReport",
    "parameters": [
     {
      "name": "pid",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "report",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "patient",
          "height",
          "entries"
         ]
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Unauthenticated"
     },
     "403": {
      "$ref": "#/components/responses/Error"
     }
    },
    "security": [
     {
      "signed": []
     }
    ]
   }
  },
  "/v1/break-glass": {
   "get": {
    "summary": "Emergency accesses awaiting this organisation's review",
    "operationId": "breakGlassQueue",
    "parameters": [
     {
      "name": "overdue_hours",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 1,
       "maximum": 87599
      }
     }
    ],
    "responses": {
     "200": {
      "description": "queue",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "type": "object"
         }
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Unauthenticated"
     },
     "403": {
      "$ref": "#/components/responses/Error"
     }
    },
    "security": [
     {
      "signed": []
     }
    ]
   }
  },
  "/v1/claims/{id}/verification": {
   "get": {
    "summary": "(payer nodes) the verdict on a claim addressed to this organisation",
    "operationId": "verifyClaim",
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "verdict",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "claim",
          "outcome"
         ]
        }
       }
      }
     },
     "404": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Unauthenticated"
     },
     "403": {
      "$ref": "#/components/responses/Error"
     }
    },
    "security": [
     {
      "signed": []
     }
    ]
   }
  },
  "/v1/anchors/{sha256}": {
   "get": {
    "summary": "An anchored dataset digest with its inclusion proof",
    "operationId": "getAnchor",
    "parameters": [
     {
      "name": "sha256",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string",
       "pattern": "^[0-9a-f]{64}$"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "anchor",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "anchor",
          "proof"
         ]
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/v1/policies": {
   "get": {
    "summary": "Query policies with each custodian's vote and the derived status",
    "operationId": "listPolicies",
    "security": [
     {
      "signed": []
     }
    ],
    "responses": {
     "200": {
      "description": "policies",
      "content": {
       "application/json": {
        "schema": {
         "type": "array",
         "items": {
          "type": "object"
         }
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthenticated"
     }
    }
   }
  },
  "/v1/queries/{id}": {
   "get": {
    "summary": "A query's ledger record (policy, requester, pinned time and height, sites answered); the merged result too, for the requester's own organisation on its own node",
    "operationId": "getQuery",
    "security": [
     {
      "signed": []
     }
    ],
    "parameters": [
     {
      "name": "id",
      "in": "path",
      "required": true,
      "schema": {
       "type": "string"
      }
     }
    ],
    "responses": {
     "200": {
      "description": "query",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "query"
         ]
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthenticated"
     },
     "404": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/v1/queries/preview": {
   "post": {
    "summary": "What this member would release for a query under a policy (unsigned, never sent): the steward's second gate",
    "operationId": "previewQuery",
    "security": [
     {
      "signed": []
     }
    ],
    "requestBody": {
     "required": true,
     "content": {
      "application/json": {
       "schema": {
        "$ref": "#/components/schemas/QueryRequest"
       }
      }
     }
    },
    "responses": {
     "200": {
      "description": "this site's result",
      "content": {
       "application/json": {
        "schema": {
         "type": "object"
        }
       }
      }
     },
     "400": {
      "$ref": "#/components/responses/Error"
     },
     "401": {
      "$ref": "#/components/responses/Unauthenticated"
     },
     "403": {
      "$ref": "#/components/responses/Error"
     },
     "413": {
      "$ref": "#/components/responses/Error"
     },
     "422": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  },
  "/v1/surveillance": {
   "get": {
    "summary": "Stored surveillance counts (public health nodes), suppressed cells marked",
    "operationId": "surveillance",
    "security": [
     {
      "signed": []
     }
    ],
    "parameters": [
     {
      "name": "after",
      "in": "query",
      "required": false,
      "schema": {
       "type": "integer",
       "minimum": 0
      }
     }
    ],
    "responses": {
     "200": {
      "description": "rows",
      "content": {
       "application/json": {
        "schema": {
         "type": "object",
         "required": [
          "rows"
         ]
        }
       }
      }
     },
     "401": {
      "$ref": "#/components/responses/Unauthenticated"
     },
     "403": {
      "$ref": "#/components/responses/Error"
     }
    }
   }
  }
 },
 "components": {
  "responses": {
   "Error": {
    "description": "an error",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   },
   "Unauthenticated": {
    "description": "missing, invalid, stale or replayed request signature",
    "content": {
     "application/json": {
      "schema": {
       "$ref": "#/components/schemas/Error"
      }
     }
    }
   }
  },
  "schemas": {
   "Error": {
    "type": "object",
    "required": [
     "code",
     "error"
    ],
    "properties": {
     "code": {
      "type": "string"
     },
     "error": {
      "type": "string"
     }
    }
   },
   "Health": {
    "type": "object",
    "required": [
     "status"
    ],
    "properties": {
     "status": {
      "type": "string"
     }
    }
   },
   "Ready": {
    "type": "object",
    "required": [
     "ready",
     "reasons"
    ],
    "properties": {
     "ready": {
      "type": "boolean"
     },
     "reasons": {
      "type": "array",
      "items": {
       "type": "string"
      }
     }
    }
   },
   "Status": {
    "type": "object",
    "required": [
     "org",
     "chain",
     "role",
     "term",
     "commit_index",
     "applied_index",
     "height",
     "head"
    ],
    "properties": {
     "org": {
      "type": "string"
     },
     "chain": {
      "type": "string"
     },
     "role": {
      "type": "string"
     },
     "term": {
      "type": "integer"
     },
     "commit_index": {
      "type": "integer"
     },
     "applied_index": {
      "type": "integer"
     },
     "height": {
      "type": "integer"
     },
     "head": {
      "type": "string"
     },
     "leader": {
      "type": "string"
     },
     "leader_api": {
      "type": "string"
     },
     "pending_outcomes": {
      "type": "integer",
      "description": "Query outcomes this node has yet to record on the ledger (audit.result)."
     }
    }
   },
   "Receipt": {
    "type": "object",
    "required": [
     "status",
     "hash",
     "height",
     "index",
     "result"
    ],
    "properties": {
     "status": {
      "type": "string"
     },
     "hash": {
      "type": "string"
     },
     "height": {
      "type": "integer"
     },
     "index": {
      "type": "integer"
     },
     "result": {}
    }
   },
   "QueryRequest": {
    "type": "object",
    "required": [
     "policy",
     "sql"
    ],
    "properties": {
     "policy": {
      "type": "string",
      "maxLength": 64
     },
     "sql": {
      "type": "string",
      "maxLength": 65536
     },
     "parameters": {
      "type": "object",
      "additionalProperties": {
       "type": "string"
      }
     },
     "purpose": {
      "type": "string",
      "maxLength": 200
     }
    }
   }
  },
  "securitySchemes": {
   "signed": {
    "type": "apiKey",
    "in": "header",
    "name": "Tally-Signature",
    "description": "Ed25519 request signature; with Tally-Identity and Tally-Timestamp headers (see the description above)."
   }
  }
 }
}
"""#
}
