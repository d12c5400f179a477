; JSON: the keys of the top-level object.
(document (object (pair key: (string) @name) @definition.key))
