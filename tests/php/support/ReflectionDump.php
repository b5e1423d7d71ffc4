<?php
/**
 * A comparable description of classes through Reflection, used by StubsTest
 * both for the loaded extension and (in a child PHP without it) for the stubs.
 */
function sfsync_type_string(?ReflectionType $type): string
{
    if ($type === null) {
        return 'mixed';
    }
    $text = (string) $type;
    // "?array" and "array|null" are the same type.
    if ($type instanceof ReflectionNamedType && $type->allowsNull() && $type->getName() !== 'mixed' && $type->getName() !== 'null') {
        $text = '?' . $type->getName();
    }

    return $text;
}

/**
 * @param string[] $classes
 */
function sfsync_reflection_dump(array $classes): array
{
    $out = [];
    foreach ($classes as $name) {
        $class = new ReflectionClass($name);
        $constants = [];
        foreach ($class->getReflectionConstants() as $constant) {
            $constants[$constant->getName()] = $constant->getValue();
        }
        ksort($constants);
        $methods = [];
        foreach ($class->getMethods() as $method) {
            if (!$method->isPublic()) {
                continue;
            }
            $params = [];
            foreach ($method->getParameters() as $param) {
                $default = 'none';
                if ($param->isDefaultValueAvailable()) {
                    try {
                        $default = var_export($param->getDefaultValue(), true);
                    } catch (Throwable $e) {
                        $default = 'unreadable';
                    }
                } elseif ($param->isOptional()) {
                    $default = 'unknown';
                }
                $params[] = [
                    'name' => $param->getName(),
                    'type' => sfsync_type_string($param->getType()),
                    'optional' => $param->isOptional(),
                    'default' => $default,
                    'by_ref' => $param->isPassedByReference(),
                    'variadic' => $param->isVariadic(),
                ];
            }
            $methods[$method->getName()] = [
                'static' => $method->isStatic(),
                'abstract' => $method->isAbstract(),
                'final' => $method->isFinal(),
                'return' => $method->hasReturnType() ? sfsync_type_string($method->getReturnType()) : 'mixed',
                'params' => $params,
            ];
        }
        ksort($methods);
        $interfaces = $class->getInterfaceNames();
        sort($interfaces);
        $out[$name] = [
            'parent' => $class->getParentClass() ? $class->getParentClass()->getName() : null,
            'abstract' => $class->isAbstract(),
            'final' => $class->isFinal(),
            'interface' => $class->isInterface(),
            'interfaces' => $interfaces,
            'constants' => $constants,
            'methods' => $methods,
        ];
    }
    ksort($out);

    return $out;
}
